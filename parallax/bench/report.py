"""Show an :class:`~parallax.bench.evaluate.EvalReport` (or a sequence report) as one rich table, and compare matchers."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from parallax.bench.evaluate import EvalReport
from parallax.bench.temporal import SequenceReport
from parallax.errors import ParameterError

__all__ = ["report_table", "print_report", "ratio", "sequence_table", "print_sequence_report"]

_COLUMNS = (
    ("bad-0.5 %", "bad_0_5_pct", "{:.2f}"),
    ("bad-1 %", "bad_1_pct", "{:.2f}"),
    ("bad-2 %", "bad_2_pct", "{:.2f}"),
    ("bad-4 %", "bad_4_pct", "{:.2f}"),
    ("EPE px", "epe_px", "{:.3f}"),
    ("RMS px", "rms_px", "{:.3f}"),
    ("D1 %", "d1_pct", "{:.2f}"),
    ("density %", "density_pct", "{:.1f}"),
)


def report_table(report: EvalReport, *, timing: bool = True) -> Table:
    """One row per scene and matcher, then one mean row per matcher.

    Metrics are over all GT pixels; ``bad-2 noc`` is over non-occluded GT pixels
    ("-" where the scene has no mask); ``ms/MP`` is warm wall time per megapixel.
    """
    show_time = timing and report.timed
    table = Table(title=f"Stereo evaluation: {report.dataset}", title_justify="left")
    table.add_column("scene")
    table.add_column("matcher")
    for header, _, _ in _COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("bad-2 noc %", justify="right")
    if show_time:
        table.add_column("ms/MP", justify="right")
    for r in report.results:
        row = [r.scene, r.matcher]
        row += [fmt.format(getattr(r.all, key)) for _, key, fmt in _COLUMNS]
        row.append("-" if r.nonocc is None else f"{r.nonocc.bad_2_pct:.2f}")
        if show_time:
            row.append(f"{r.ms_per_mp:.0f}")
        table.add_row(*row)
    table.add_section()
    for m in report.matchers:
        mean = report.mean(m, "all")
        if mean is None:
            continue
        noc = report.mean(m, "nonocc")
        n = mean["scenes"]
        row = [f"mean of {n} scene{'s' if n != 1 else ''}", m]
        row += [fmt.format(mean[key]) for _, key, fmt in _COLUMNS]
        row.append("-" if noc is None else f"{noc['bad_2_pct']:.2f}")
        if show_time:
            row.append(f"{report.ms_per_mp(m):.0f}")
        table.add_row(*row, style="bold")
    return table


def print_report(report: EvalReport, *, timing: bool = True, console: Console | None = None) -> None:
    """Print the table and a line on how missing predictions and ranges were handled."""
    if console is None:
        console = Console(highlight=False)
        if not console.is_terminal:
            console = Console(highlight=False, width=180)
    console.print(report_table(report, timing=timing))
    sources = sorted({s["range_source"] for s in report.scenes})
    rng = f"scene ranges ({', '.join(sources)})" if report.use_scene_range else "matchers' own ranges"
    console.print(
        f"search range: {rng}; a pixel without a prediction counts as wrong in bad-N and D1, "
        "EPE/RMS fill holes with the row's background neighbour"
    )


def ratio(report: EvalReport, numerator: str, denominator: str, *, metric: str = "bad_2_pct") -> float:
    """``mean(metric of numerator) / mean(metric of denominator)`` over all GT pixels.

    ``metric="ms_per_mp"`` compares warm speed instead.

    Raises
    ------
    ParameterError
        If a matcher is not in the report, the metric is unknown, or the
        denominator is zero.
    """
    for m in (numerator, denominator):
        if m not in report.matchers:
            raise ParameterError(f"matcher {m!r} is not in the report (has {', '.join(report.matchers)})")
    if metric == "ms_per_mp":
        a, b = report.ms_per_mp(numerator), report.ms_per_mp(denominator)
        if a is None or b is None:
            raise ParameterError("the report has no timing; run without --no-timing")
    else:
        ma, mb = report.mean(numerator), report.mean(denominator)
        if ma is None or mb is None or metric not in ma:
            raise ParameterError(f"metric {metric!r} is not one of {', '.join(k for k in (ma or {}) if k != 'scenes')}")
        a, b = ma[metric], mb[metric]
    if b == 0:
        raise ParameterError(f"{denominator} has {metric} 0; the ratio is undefined")
    return a / b


_SEQ_COLUMNS = (
    ("bad-2 %", "bad_2_pct", "{:.2f}"),
    ("bad-2 noc %", "bad_2_nonocc_pct", "{:.2f}"),
    ("EPE px", "epe_px", "{:.3f}"),
    ("TEPE px", "tepe_px", "{:.3f}"),
    ("density %", "density_pct", "{:.1f}"),
)


def sequence_table(report: SequenceReport, *, timing: bool = True) -> Table:
    """One row per sequence and matcher (means over its frames), then one mean row per matcher.

    ``bad-2``, ``EPE`` and ``density`` are per-frame metrics over all GT pixels
    averaged over frames; ``bad-2 noc`` over non-occluded pixels; ``TEPE`` is the
    temporal end-point error averaged over consecutive frame pairs.
    """
    show_time = timing and report.timed
    table = Table(title=f"Temporal stereo evaluation: {report.dataset}", title_justify="left")
    table.add_column("sequence")
    table.add_column("matcher")
    table.add_column("frames", justify="right")
    for header, _, _ in _SEQ_COLUMNS:
        table.add_column(header, justify="right")
    if show_time:
        table.add_column("ms/MP", justify="right")

    def cells(mean: dict[str, float]) -> list[str]:
        return [fmt.format(mean[key]) if key in mean else "-" for _, key, fmt in _SEQ_COLUMNS]

    for seq in report.sequences:
        for m in report.matchers:
            mean = report.mean(m, seq["name"])
            if mean is None:
                continue
            row = [seq["name"], m, str(int(mean["frames"])), *cells(mean)]
            if show_time:
                rows = report.rows(m, seq["name"])
                mp = sum(r.width * r.height / 1e6 for r in rows)
                row.append(f"{sum(r.elapsed_ms or 0.0 for r in rows) / mp:.0f}")
            table.add_row(*row)
    table.add_section()
    for m in report.matchers:
        mean = report.mean(m)
        if mean is None:
            continue
        n = len(report.sequences)
        row = [f"mean of {n} sequence{'s' if n != 1 else ''}", m, str(int(mean["frames"])), *cells(mean)]
        if show_time:
            row.append(f"{report.ms_per_mp(m):.0f}")
        table.add_row(*row, style="bold")
    return table


def print_sequence_report(report: SequenceReport, *, timing: bool = True, console: Console | None = None) -> None:
    """Print the sequence table and a line on what TEPE measures."""
    if console is None:
        console = Console(highlight=False)
        if not console.is_terminal:
            console = Console(highlight=False, width=180)
    console.print(sequence_table(report, timing=timing))
    rng = "each sequence's range (from its ground truth)" if report.use_scene_range else "matchers' own ranges"
    console.print(
        f"search range: {rng}; TEPE = mean |predicted - true disparity change| of each surface point between "
        "consecutive frames, following the true optical flow, over pixels visible in both frames"
    )
