"""One training run of the data-value experiment: one arm, one seed, then its scores on the held-out scenes."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parallax.bench.value.evaluate import EvalScene, score_model
from parallax.bench.value.model import ViewSynthNet, view_synthesis_loss
from parallax.bench.value.settings import ValueSettings
from parallax.bench.value.stream import TrainStream, to_batch
from parallax.errors import ParameterError, require

__all__ = ["RunResult", "train_run", "resolve_device", "set_seed"]

torch: Any = require("torch", "torch", "parallax bench value")


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What one run produced.

    Parameters
    ----------
    arm, seed :
        Which run.
    scores : dict
        Held-out scene -> metric -> value.
    loss_curve : list of (int, float)
        ``(step, mean training loss over the preceding log interval)``.
    draws : dict
        Source -> sample id -> times drawn (the run's training data list).
    epochs : int
        Loader epochs begun.
    train_seconds, eval_seconds : float
    previews : dict
        Scene -> predicted right view (``HxWx3`` float32), kept for the preview images.
    """

    arm: str
    seed: int
    scores: dict[str, dict[str, float]]
    loss_curve: list[tuple[int, float]]
    draws: dict[str, dict[str, int]]
    epochs: int
    train_seconds: float
    eval_seconds: float
    previews: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (without the preview images)."""
        return {
            "arm": self.arm,
            "seed": self.seed,
            "scores": self.scores,
            "loss_curve": [[s, round(v, 6)] for s, v in self.loss_curve],
            "draws": self.draws,
            "epochs": self.epochs,
            "train_seconds": round(self.train_seconds, 2),
            "eval_seconds": round(self.eval_seconds, 2),
        }


def resolve_device(name: str) -> Any:
    """A ``torch.device`` that exists here, or a :class:`ParameterError` naming ``--device``."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise ParameterError(f"--device {name!r} is not a PyTorch device; use cpu, cuda or cuda:N") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(f"--device {name}: this PyTorch has no CUDA device available; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ParameterError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ParameterError(f"--device {name}: MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ParameterError(f"--device {name}: use cpu, cuda or mps")
    return device


def set_seed(seed: int) -> None:
    """Seed PyTorch (CPU and CUDA) for the weights' initialisation."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _predictor(model: Any, device: Any) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    def predict(left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(left.transpose(2, 0, 1)))[None].to(device)
        with torch.no_grad():
            out = model(x)
        right = out["right"][0].permute(1, 2, 0).cpu().numpy().astype(np.float32)
        disparity = out["disparity_left"][0, 0].cpu().numpy().astype(np.float32)
        return right, disparity

    return predict


def _optimise(
    settings: ValueSettings,
    model: Any,
    stream: TrainStream,
    *,
    arm: str,
    seed: int,
    device: Any,
    log: Callable[[str], None],
) -> tuple[list[tuple[int, float]], float]:
    """Adam with cosine decay for ``settings.steps`` steps; return the loss curve and the seconds it took."""
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, T_max=settings.steps, eta_min=settings.learning_rate * 0.1
    )
    every = max(1, settings.steps // 10)
    curve: list[tuple[int, float]] = []
    running: list[float] = []
    start = time.perf_counter()
    model.train()
    for step in range(1, settings.steps + 1):
        batch = to_batch(stream.next_pairs(), device)
        out = model(batch["left"])
        loss, _ = view_synthesis_loss(out, batch, settings.loss)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise ParameterError(f"training diverged ({arm}, seed {seed}, step {step}: loss {value}); lower --lr")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        running.append(value)
        if step % every == 0 or step == settings.steps:
            curve.append((step, float(np.mean(running))))
            running = []
            log(f"  {arm} seed {seed}: step {step}/{settings.steps} loss {curve[-1][1]:.4f}")
    return curve, time.perf_counter() - start


def train_run(
    settings: ValueSettings,
    *,
    arm: str,
    seed: int,
    sources: Mapping[str, Path],
    weights: Mapping[str, float],
    eval_scenes: Sequence[EvalScene],
    device: Any,
    log: Callable[[str], None] = print,
    save_to: Path | None = None,
) -> RunResult:
    """Train one arm with one seed for ``settings.steps`` steps, then score it on ``eval_scenes``.

    Parameters
    ----------
    sources, weights :
        The arm's training exports and mixing weights (see :class:`TrainStream`).
    save_to : Path, optional
        Write the trained weights (``state_dict``) there.
    """
    set_seed(seed)
    model = ViewSynthNet(settings.model).to(device)
    stream = TrainStream(
        sources,
        weights,
        seed=seed,
        crop=settings.size,
        batch_size=settings.batch_size,
        workers=settings.loader_workers,
    )
    try:
        curve, train_seconds = _optimise(settings, model, stream, arm=arm, seed=seed, device=device, log=log)
    finally:
        stream.close()
    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), save_to)
    model.eval()
    previews: dict[str, np.ndarray] = {}
    start = time.perf_counter()
    scores = score_model(_predictor(model, device), eval_scenes, keep=previews.__setitem__)
    return RunResult(
        arm=arm,
        seed=seed,
        scores=scores,
        loss_curve=curve,
        draws=stream.draw_counts(),
        epochs=stream.epochs,
        train_seconds=train_seconds,
        eval_seconds=time.perf_counter() - start,
        previews=previews,
    )
