"""The Ray engine gives the same catalog as the embedded engine (local Ray, 2 CPUs)."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")

from parallax.corpus.ingest import IngestSettings, discover  # noqa: E402
from parallax.corpus.ray_engine import ensure_ray  # noqa: E402
from parallax.corpus.store import Corpus  # noqa: E402
from parallax.errors import ParameterError  # noqa: E402

from .conftest import ALICE  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
]  # Ray's own deprecations
SETTINGS = IngestSettings(max_side_px=320)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def _inputs(captures_dir, tmp_path):
    broken = tmp_path / "broken.mpo"
    broken.write_bytes(b"MPF but not really")
    return [
        captures_dir / "mpo" / "sugarshack.mpo",
        captures_dir / "mpo" / "frozenpond.mpo",
        captures_dir / "sbs" / "Panasonic-DMC-GX8.jpg",
        captures_dir / "mpo" / "Panasonic-DMC-GX8.mpo",
        broken,
    ]


def test_ray_catalog_equals_embedded_catalog(local_ray, tmp_path, captures_dir):
    items, _ = discover(_inputs(captures_dir, tmp_path))
    embedded = Corpus.init(tmp_path / "embedded")
    out_e = embedded.add(items, ALICE, SETTINGS)
    on_ray = Corpus.init(tmp_path / "ray")
    out_r = on_ray.add(items, ALICE, SETTINGS, engine="ray", ray_workers=2)
    assert [(o.original_name, o.status, o.reason, o.sample_id) for o in out_r] == [
        (o.original_name, o.status, o.reason, o.sample_id) for o in out_e
    ]
    assert sorted(o.status for o in out_r) == ["accepted", "accepted", "accepted", "duplicate", "rejected"]
    assert on_ray.catalog.snapshot() == embedded.catalog.snapshot()
    for row in embedded.catalog.active_samples():
        sid = row["sample_id"]
        for name in ("meta.json", "left.png", "disparity.png"):
            assert (tmp_path / "ray" / "samples" / sid / name).read_bytes() == (
                tmp_path / "embedded" / "samples" / sid / name
            ).read_bytes()
    embedded.close()
    on_ray.close()


def test_ray_engine_parameters(local_ray, tmp_path):
    corpus = Corpus.init(tmp_path / "c")
    with pytest.raises(ParameterError, match="embedded' or 'ray"):
        corpus.add([], ALICE, SETTINGS, engine="spark")
    with pytest.raises(ParameterError, match="workers"):
        ensure_ray(0)
    assert corpus.add([], ALICE, SETTINGS, engine="ray") == []
    corpus.close()


def test_ray_catalog_equals_embedded_catalog_on_clips(local_ray, tmp_path, captures_dir, data_dir):
    """Clips: a 12-frame pan in two chunks (processed in parallel on Ray), the bidavideo frame folder and its MP4
    (one sample), a truncated video: the same outcomes, catalog rows (clip frames included) and files."""
    from .video_factory import gopro_pan, write_sbs_video

    frames, _ = gopro_pan(captures_dir, frames=12, pan_px=30, crop=(400, 640))
    pan = write_sbs_video(tmp_path / "pan.mp4", frames)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(pan.read_bytes()[:3000])
    copy = tmp_path / "pan-copy.mp4"  # the same bytes under another name: one source
    copy.write_bytes(pan.read_bytes())
    items, _ = discover([pan, copy, broken, data_dir / "video" / "bidavideo-demo"])
    settings = IngestSettings(max_side_px=240, clip_fps=None, clip_chunk_frames=8)
    embedded = Corpus.init(tmp_path / "embedded")
    out_e = embedded.add(items, ALICE, settings)
    on_ray = Corpus.init(tmp_path / "ray")
    out_r = on_ray.add(items, ALICE, settings, engine="ray", ray_workers=2)
    summary = [(o.original_name, o.status, o.reason, o.sample_id) for o in out_e]
    assert [(o.original_name, o.status, o.reason, o.sample_id) for o in out_r] == summary
    assert [(n, s) for n, s, _, _ in summary] == [
        ("bidavideo-demo [frames 0-9]", "accepted"),
        ("broken.mp4", "rejected"),
        ("pan-copy.mp4 [frames 0-11]", "accepted"),
        ("pan.mp4 [frames 0-11]", "skipped"),
        ("sbs_2560x720_10fps.mp4 [frames 0-9]", "duplicate"),
    ]
    snap = embedded.catalog.snapshot()
    assert len(snap["clip_frames"]) == 12 + 10 and len(snap["clip_sources"]) == 3
    assert on_ray.catalog.snapshot() == snap
    for row in embedded.catalog.active_samples():
        a, b = tmp_path / "embedded" / "samples" / row["sample_id"], tmp_path / "ray" / "samples" / row["sample_id"]
        names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
        assert names == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
        assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)
    assert not any((tmp_path / "ray" / "staging").iterdir())
    embedded.close()
    on_ray.close()
