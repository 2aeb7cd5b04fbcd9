"""Mutation fuzzing of every reader (scripts/fuzz_readers.py): a mutant yields a capture/clip or a ParallaxError.

The bounded, seeded run is part of CI; other seeds can be run by hand
(``python scripts/fuzz_readers.py --seed 7 --count 2000``). The regression corpus
below lists mutants that once crashed a reader with another exception; they are
regenerated from their keys (seed file, mutation, seed), never stored as binaries.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from parallax.capture import read_capture
from parallax.errors import ParallaxError

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_readers.py"

#: Mutants that crashed a reader before its fix, by key (family:seed-file:mutation:rng-seed).
REGRESSIONS = [
    # pillow-heif raised EOFError for HEIC image data cut short (duplicated / deleted chunks)
    "heic:vision-pro.HEIC:dup:506456969",
    "heic:spatial_photo.heic:delete:1737120419",
    "heic-depth:pug.heic:dup:429497919",
    # a 'ster' entity group naming an image that does not exist gave None as an image index
    "heic:vision-pro.HEIC:flip:1598701557",
    "heic:vision-pro.HEIC:flip:1176606911",
    # a HEIC whose primary image no longer decodes left an empty image list (IndexError)
    "heic:vision-pro.HEIC:inflate:362112541",
]


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz_readers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_readers", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("key", REGRESSIONS)
def test_former_crashes_give_a_parallax_error_or_a_capture(key, tmp_path):
    fuzz = _fuzz_module()
    mutant = fuzz.Mutant.from_key(key)
    path = tmp_path / ("mutant" + Path(mutant.seed_file).suffix)
    path.write_bytes(mutant.data())
    try:
        capture = read_capture(path)
    except ParallaxError as exc:
        assert str(exc).strip() and "\n" not in str(exc).strip()
    else:
        assert capture.left.ndim == 3


def test_mutations_are_seeded():
    fuzz = _fuzz_module()
    a = fuzz.plan(5, 30, None)
    assert a == fuzz.plan(5, 30, None)
    assert {m.kind for m in a} == set(fuzz.MUTATIONS)
    m = a[0]
    assert m.data() == m.data() and fuzz.Mutant.from_key(m.key) == m


@pytest.mark.slow
def test_bounded_fuzz_run_finds_nothing():
    """~160 mutants over every still and video reader, each under a time and memory limit."""
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--seed", "0", "--count", "160", "--time-limit", "30", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(out.stdout)
    assert report["mutants"] == 160
    assert report["findings"] == [], json.dumps(report["findings"], indent=1)
    assert out.returncode == 0
