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
