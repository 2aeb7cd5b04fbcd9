"""Settings of the data-value experiment (``parallax bench value``): :class:`ValueSettings`.

Two presets: :func:`quick_settings` (a CI smoke run of about a minute that only
shows both arms train and evaluate) and :func:`full_settings` (the documented
run, about 30 minutes on 2 CPU cores). Every field is written beside the
results, so a run can be repeated exactly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from parallax.errors import ParameterError

__all__ = [
    "ValueSettings",
    "ModelConfig",
    "LossWeights",
    "DOWNSAMPLE",
    "quick_settings",
    "full_settings",
    "parse_size",
    "TRAIN_SCENES",
    "EVAL_SCENES",
    "QUICK_TRAIN_SCENES",
    "QUICK_EVAL_SCENES",
]

#: Real scenes of ``../shared/data`` trained on by default (ids of :mod:`parallax.bench.value.scenes`).
TRAIN_SCENES = (
    "middlebury2003-teddy",
    "middlebury2006-aloe-t",
    "middlebury2006-baby1-t",
    "middlebury2001-tsukuba",
    "gx8-mountain",
    "3ds-frozenpond",
    "gopro-plaza",
    "jps-mario",
    "lif-cactus",
    "heic-terrace",
    "video-office",
)
#: Real scenes held out for evaluation by default: three with ground-truth disparity, three consumer captures.
EVAL_SCENES = (
    "middlebury2003-cones",
    "middlebury2014-motorcycle-q",
    "eth3d-playground_1l",
    "3ds-sugarshack",
    "calf-trail",
    "heic-bedroom",
)
QUICK_TRAIN_SCENES = ("middlebury2001-tsukuba", "3ds-frozenpond")
QUICK_EVAL_SCENES = ("middlebury2003-cones", "3ds-sugarshack")


#: Input sides must be multiples of this (the U-Net halves the size four times).
DOWNSAMPLE = 16


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Size of :class:`ViewSynthNet`.

    Parameters
    ----------
    channels : tuple of int
        Feature channels of the U-Net levels at 1/2, 1/4, 1/8 and 1/16 of the input size.
    refine_channels : int
        Channels of the refinement network.
    min_disparity_frac, max_disparity_frac : float
        Range of the predicted disparities as a fraction of the image width
        (negative values allow converged rigs).
    init_disparity_frac : float
        Disparity (fraction of the width) the untrained network predicts.
    """

    channels: tuple[int, ...] = (16, 24, 32, 48)
    refine_channels: int = 12
    min_disparity_frac: float = -0.05
    max_disparity_frac: float = 0.25
    init_disparity_frac: float = 0.02

    def __post_init__(self) -> None:
        if len(self.channels) != 4 or any(int(c) < 1 for c in self.channels):
            raise ParameterError(f"ModelConfig.channels must be 4 positive integers, got {self.channels!r}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if int(self.refine_channels) < 1:
            raise ParameterError(f"ModelConfig.refine_channels must be positive, got {self.refine_channels!r}")
        lo, hi, init = self.min_disparity_frac, self.max_disparity_frac, self.init_disparity_frac
        if not (-1.0 < lo < init < hi < 1.0):
            raise ParameterError(
                f"ModelConfig needs -1 < min_disparity_frac < init_disparity_frac < max_disparity_frac < 1, "
                f"got {lo}, {init}, {hi}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {
            "channels": list(self.channels),
            "refine_channels": self.refine_channels,
            "min_disparity_frac": self.min_disparity_frac,
            "max_disparity_frac": self.max_disparity_frac,
            "init_disparity_frac": self.init_disparity_frac,
        }


@dataclass(frozen=True, kw_only=True)
class LossWeights:
    """Weights of the training loss terms (see :func:`view_synthesis_loss`)."""

    right: float = 1.0
    warped: float = 0.5
    left_reconstruction: float = 0.5
    smoothness: float = 0.05
    supervised: float = 0.1

    def to_dict(self) -> dict[str, float]:
        """JSON-ready weights."""
        return {
            "right": self.right,
            "warped": self.warped,
            "left_reconstruction": self.left_reconstruction,
            "smoothness": self.smoothness,
            "supervised": self.supervised,
        }


def parse_size(text: str, *, name: str = "--size", multiple: int = 1) -> tuple[int, int]:
    """``"128x96"`` -> ``(128, 96)``; both sides positive multiples of ``multiple``."""
    parts = str(text).lower().replace(" ", "").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError as exc:
        raise ParameterError(f"{name} {text!r} is not a size WxH such as 128x96") from exc
    if w < multiple or h < multiple or w % multiple or h % multiple or w > 8192 or h > 8192:
        raise ParameterError(
            f"{name} {text!r}: both sides must be multiples of {multiple} between {multiple} and 8192 pixels"
        )
    return w, h


@dataclass(frozen=True, kw_only=True)
class ValueSettings:
    """Everything that decides a data-value run.

    Parameters
    ----------
    size : (int, int)
        Training crop ``(width, height)`` in pixels, multiples of 16. Held-out
        scenes are evaluated whole, resized to this width (height rounded to a
        multiple of 16).
    steps : int
        Optimisation steps per arm and seed (both arms take the same number).
    batch_size : int
        Stereo pairs per step.
    learning_rate : float
        Adam's learning rate (cosine decay to a tenth over the run).
    seeds : tuple of int
        One training run per seed and arm: the seed fixes the weights'
        initialisation, the crops and the loader's mixing and shard order.
    real_weight : float
        Share of training draws taken from the real corpus in the synthetic +
        real arm (``CorpusDataset`` weights ``real_weight`` : ``1 - real_weight``).
    synth_count, synth_size, synth_spp, synth_seed :
        The synthetic pairs ``parallax synth`` renders (count, ``(w, h)``,
        samples per pixel, dataset seed).
    ingest_max_side : int
        Longest side of the real corpus samples (``parallax corpus add --max-side``).
    train_scenes, eval_scenes : tuple of str
        Real scene ids for training and for the held-out evaluation (never trained on).
    device : str
        PyTorch device (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
    threads : int or None
        CPU threads of PyTorch (None: PyTorch's default).
    loader_workers : {0, 1}
        DataLoader worker processes that read, decode and crop the training pairs
        beside the training (0: in the training process); the draws are the same.
    bootstrap : int
        Resamples of the bootstrap confidence interval.
    confidence : float
        Level of the confidence interval (0.95).
    model : ModelConfig
    loss : LossWeights
    preset : str
        ``quick``, ``full`` or ``custom`` (recorded only).
    """

    size: tuple[int, int] = (128, 96)
    steps: int = 800
    batch_size: int = 8
    learning_rate: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    real_weight: float = 0.3
    synth_count: int = 48
    synth_size: tuple[int, int] = (192, 144)
    synth_spp: int = 16
    synth_seed: int = 0
    ingest_max_side: int = 256
    train_scenes: tuple[str, ...] = TRAIN_SCENES
    eval_scenes: tuple[str, ...] = EVAL_SCENES
    device: str = "cpu"
    threads: int | None = None
    loader_workers: int = 1
    bootstrap: int = 10000
    confidence: float = 0.95
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    preset: str = "custom"

    def __post_init__(self) -> None:
        w, h = (int(v) for v in self.size)
        if w % DOWNSAMPLE or h % DOWNSAMPLE or not (32 <= w <= 8192 and 32 <= h <= 8192):
            raise ParameterError(
                f"size {w}x{h}: both sides must be multiples of {DOWNSAMPLE} between 32 and 8192 pixels"
            )
        object.__setattr__(self, "size", (w, h))
        for name, low in (("steps", 1), ("batch_size", 1), ("synth_count", 1), ("synth_spp", 1), ("bootstrap", 100)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ParameterError(f"{name} must be an integer >= {low}, got {value!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 1):
            raise ParameterError(f"learning_rate must be in (0, 1), got {self.learning_rate!r}")
        seeds = tuple(self.seeds)
        if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ParameterError(f"seeds must be distinct non-negative integers, got {self.seeds!r}")
        object.__setattr__(self, "seeds", seeds)
        if not (isinstance(self.real_weight, (int, float)) and 0.0 < float(self.real_weight) < 1.0):
            raise ParameterError(f"real_weight must be a share strictly between 0 and 1, got {self.real_weight!r}")
        sw, sh = (int(v) for v in self.synth_size)
        if not (32 <= sw <= 8192 and 32 <= sh <= 8192):
            raise ParameterError(f"synth_size {sw}x{sh}: each side must be 32..8192 pixels")
        object.__setattr__(self, "synth_size", (sw, sh))
        if not isinstance(self.synth_seed, int) or self.synth_seed < 0:
            raise ParameterError(f"synth_seed must be a non-negative integer, got {self.synth_seed!r}")
        if not isinstance(self.ingest_max_side, int) or not 64 <= self.ingest_max_side <= 16384:
            raise ParameterError(f"ingest_max_side must be an integer 64..16384, got {self.ingest_max_side!r}")
        train, held = tuple(self.train_scenes), tuple(self.eval_scenes)
        if not held:
            raise ParameterError("eval_scenes is empty; give at least one held-out real scene")
        both = sorted(set(train) & set(held))
        if both:
            raise ParameterError(
                f"scenes {both} are in both train_scenes and eval_scenes; a held-out scene is never trained on"
            )
        object.__setattr__(self, "train_scenes", train)
        object.__setattr__(self, "eval_scenes", held)
        if not isinstance(self.device, str) or not self.device:
            raise ParameterError(f"device must be a PyTorch device name such as cpu or cuda, got {self.device!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ParameterError(f"threads must be a positive integer or None, got {self.threads!r}")
        if self.loader_workers not in (0, 1):
            raise ParameterError(f"loader_workers must be 0 or 1, got {self.loader_workers!r}")
        if not (isinstance(self.confidence, float) and 0.5 <= self.confidence < 1.0 and math.isfinite(self.confidence)):
            raise ParameterError(f"confidence must be a level in [0.5, 1), got {self.confidence!r}")
        if self.preset not in ("quick", "full", "custom"):
            raise ParameterError(f"preset must be quick, full or custom, got {self.preset!r}")

    def replace(self, **changes: Any) -> ValueSettings:
        """A copy with ``changes``; the preset becomes ``custom`` when anything but device/threads changes."""
        if set(changes) - {"device", "threads", "loader_workers", "preset"} and "preset" not in changes:
            changes["preset"] = "custom"
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (written to ``settings.json`` beside the results)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (ModelConfig, LossWeights)):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def full_settings() -> ValueSettings:
    """The documented run: 3 seeds, 11 real training scenes, 6 held-out ones (about 30 min on 2 CPU cores)."""
    return ValueSettings(preset="full")


def quick_settings() -> ValueSettings:
    """A CI smoke run: tiny images, few steps, two seeds, two real scenes each side (about a minute)."""
    return ValueSettings(
        size=(64, 48),
        steps=12,
        batch_size=4,
        seeds=(0, 1),
        synth_count=3,
        synth_size=(96, 72),
        synth_spp=4,
        ingest_max_side=128,
        train_scenes=QUICK_TRAIN_SCENES,
        eval_scenes=QUICK_EVAL_SCENES,
        bootstrap=500,
        preset="quick",
    )
