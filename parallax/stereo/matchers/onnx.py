"""A learned stereo matcher run from an ONNX file with onnxruntime (extra ``onnx``).

The model file is the user's: nothing is downloaded. The contract a model must
follow:

* **inputs**: two tensors, ``left`` and ``right`` (by those names when the model
  has them, else its first two inputs in order), each ``N x 3 x H x W`` float32,
  RGB, normalised as ``normalization`` says (default ``"unit"``: values in
  [0, 1], i.e. ``uint8 / 255``; ``"imagenet"``: ``(x / 255 - mean) / std`` with
  ImageNet's mean and std; ``"raw"``: 0..255). ``N`` is 1. Height and width may
  be dynamic (any size that is a multiple of ``divisor``; the pair is padded at
  the bottom and right by edge replication and the result cropped) or fixed (the
  pair is resized to the model's size).
* **output**: the first output, disparity of the left view as ``N x 1 x H x W``
  or ``N x H x W`` float32, in pixels of the *input tensor*,
  ``x_right = x_left - d`` (set ``output_sign=-1`` for models that emit
  ``x_right - x_left``, e.g. a RAFT-Stereo flow export). Non-finite values mean
  "no value". An optional second output of the same shape is read as a
  confidence in [0, 1]; without it confidence is 1 wherever the model gave a
  finite disparity (the model states no uncertainty).

Large pairs: when the longer side exceeds ``max_side_px`` the pair is downscaled
first (area filter) and the disparity upscaled back (bilinear) and multiplied by
the width ratio, so it is in pixels of the original pair. ``tile_height_px``
additionally runs the model on horizontal bands of that height (full width, so
no match leaves its band) overlapping by ``tile_overlap_px`` rows, blended
linearly in the overlaps: peak memory then grows with the band, not the image.

The search range passed to :meth:`OnnxMatcher.match` is not used by the model
(learned matchers find their own); it is only reported.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from parallax.capture.types import check_image
from parallax.errors import InputFileError, ParameterError, require
from parallax.stereo.matchers.base import MatchResult

__all__ = ["OnnxMatcher", "NORMALIZATIONS"]

NORMALIZATIONS = ("unit", "imagenet", "raw")
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)


def _ort_errors(ort: Any) -> tuple[type[BaseException], ...]:
    state = ort.capi.onnxruntime_pybind11_state
    names = (
        "Fail",
        "InvalidArgument",
        "InvalidGraph",
        "InvalidProtobuf",
        "NoModel",
        "NoSuchFile",
        "NotImplemented",
        "RuntimeException",
        "EPFail",
        "EngineError",
    )
    return tuple(getattr(state, n) for n in names if isinstance(getattr(state, n, None), type))


class OnnxMatcher:
    """Disparity from a learned stereo model stored as an ONNX file (CPU onnxruntime).

    Parameters
    ----------
    model_path : path-like
        The ``.onnx`` file (see the module doc for the input/output contract).
    model : path-like, optional
        The same, under the name the command line's ``--model`` uses; give one
        of ``model_path`` and ``model``.
    max_side_px : int or None
        Downscale the pair so its longer side is at most this many pixels before
        running the model (disparity is scaled back). ``None``: never.
    tile_height_px : int or None
        Run the model on full-width horizontal bands of this many rows (``None``:
        the whole image at once). Must exceed ``tile_overlap_px``.
    tile_overlap_px : int
        Rows shared by neighbouring bands, blended linearly.
    divisor : int
        Dynamic-size models get inputs padded to a multiple of this (e.g. 32).
    normalization : {"unit", "imagenet", "raw"}
        How uint8 RGB becomes the float input.
    output_sign : {1, -1}
        Multiply the model's output by this to get ``x_left - x_right``.
    threads : int or None
        onnxruntime intra-op threads (``None``: onnxruntime's default).

    Raises
    ------
    InputFileError
        If the model file is missing or onnxruntime cannot load it.
    ParameterError
        For a bad option or a model whose inputs do not follow the contract.
    MissingDependencyError
        If onnxruntime is not installed (extra ``onnx``).
    """

    name = "onnx"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        model: str | Path | None = None,
        max_side_px: int | None = 1280,
        tile_height_px: int | None = None,
        tile_overlap_px: int = 32,
        divisor: int = 32,
        normalization: Literal["unit", "imagenet", "raw"] = "unit",
        output_sign: int = 1,
        threads: int | None = None,
    ) -> None:
        chosen = model_path if model_path is not None else model
        if chosen is None or (model_path is not None and model is not None):
            raise ParameterError(
                "the ONNX matcher needs exactly one model file (model_path or model); pass --model PATH to a .onnx file"
            )
        path = Path(chosen)
        if not path.is_file():
            raise InputFileError(
                f"ONNX model {path} not found; pass --model with the path of a .onnx stereo model (nothing is downloaded)"
            )
        if max_side_px is not None and int(max_side_px) < 16:
            raise ParameterError(f"max_side_px must be >= 16 or None, got {max_side_px!r}")
        if tile_height_px is not None and int(tile_height_px) <= int(tile_overlap_px):
            raise ParameterError(f"tile_height_px ({tile_height_px}) must exceed tile_overlap_px ({tile_overlap_px})")
        if int(tile_overlap_px) < 0 or int(divisor) < 1:
            raise ParameterError(f"tile_overlap_px must be >= 0 and divisor >= 1, got {tile_overlap_px!r}, {divisor!r}")
        if normalization not in NORMALIZATIONS:
            raise ParameterError(f"normalization {normalization!r} is not one of {', '.join(NORMALIZATIONS)}")
        if output_sign not in (1, -1):
            raise ParameterError(f"output_sign must be 1 or -1, got {output_sign!r}")
        ort = require("onnxruntime", "onnx", "the ONNX matcher")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except _ort_errors(ort) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputFileError(
                f"ONNX model {path} cannot be loaded by onnxruntime ({first}); give a valid .onnx file"
            ) from exc
        inputs = self._session.get_inputs()
        by_name = {i.name: i for i in inputs}
        if "left" in by_name and "right" in by_name:
            self._inputs = (by_name["left"], by_name["right"])
        elif len(inputs) >= 2:
            self._inputs = (inputs[0], inputs[1])
        else:
            raise ParameterError(f"ONNX model {path} has {len(inputs)} input(s); a stereo model needs left and right")
        shape = self._inputs[0].shape
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise ParameterError(
                f"ONNX model {path}: input {self._inputs[0].name} has shape {shape}; expected N x 3 x H x W"
            )
        h, w = shape[2], shape[3]
        self._fixed = (int(h), int(w)) if isinstance(h, int) and isinstance(w, int) else None
        self.model_path = path
        self.max_side_px = None if max_side_px is None else int(max_side_px)
        self.tile_height_px = None if tile_height_px is None else int(tile_height_px)
        self.tile_overlap_px = int(tile_overlap_px)
        self.divisor = int(divisor)
        self.normalization = normalization
        self.output_sign = int(output_sign)
        self._sha256 = hashlib.sha256(path.read_bytes()).hexdigest()

    # ------------------------------------------------------------------ public
    def match(
        self,
        left: np.ndarray,
        right: np.ndarray,
        *,
        min_disparity: float | None = None,
        max_disparity: float | None = None,
    ) -> MatchResult:
        """Disparity of ``left`` against ``right`` (``HxWx3`` uint8 RGB, same size).

        Returns
        -------
        MatchResult
            Disparity in pixels of ``left`` (``x_right = x_left - d``, NaN = no
            value) and confidence (module doc). ``min_disparity``/``max_disparity``
            echo the arguments, or the output's range when they are ``None``.
        """
        left = check_image("left", left)
        right = check_image("right", right)
        if left.shape != right.shape:
            raise ParameterError(
                f"left {left.shape} and right {right.shape} must have one size; rectify the pair first"
            )
        h, w = left.shape[:2]
        if self._fixed is not None:
            size = (self._fixed[1], self._fixed[0])
        elif self.max_side_px is not None and max(h, w) > self.max_side_px:
            s = self.max_side_px / max(h, w)
            size = (max(1, round(w * s)), max(1, round(h * s)))
        else:
            size = (w, h)
        if size != (w, h):
            small_l = cv2.resize(np.asarray(left), size, interpolation=cv2.INTER_AREA)
            small_r = cv2.resize(np.asarray(right), size, interpolation=cv2.INTER_AREA)
        else:
            small_l, small_r = np.asarray(left), np.asarray(right)
        disp, conf = self._run_bands(small_l, small_r)
        if size != (w, h):
            disp, conf = self._upscale(disp, conf, w, h, w / size[0])
        disp = np.where(np.isfinite(disp), disp, np.nan).astype(np.float32)
        conf = np.where(np.isfinite(disp), np.clip(conf, 0.0, 1.0), 0.0).astype(np.float32)
        finite = disp[np.isfinite(disp)]
        lo = float(min_disparity) if min_disparity is not None else (float(finite.min()) if finite.size else 0.0)
        hi = float(max_disparity) if max_disparity is not None else (float(finite.max()) if finite.size else 0.0)
        return MatchResult(
            disparity_px=disp,
            confidence=conf,
            min_disparity=lo,
            max_disparity=hi,
            settings={
                "matcher": self.name,
                "model": self.model_path.name,  # base name only: folder names are private
                "model_sha256": self._sha256,
                "normalization": self.normalization,
                "input_size": [int(size[0]), int(size[1])],
                "max_side_px": self.max_side_px,
                "tile_height_px": self.tile_height_px,
                "tile_overlap_px": self.tile_overlap_px,
                "divisor": self.divisor,
                "output_sign": self.output_sign,
                "search_range_used": False,
            },
        )

    # ---------------------------------------------------------------- private
    def _tensor(self, rgb: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)
        if self.normalization == "raw":
            return x
        x /= 255.0
        if self.normalization == "imagenet":
            x = (x - _IMAGENET_MEAN) / _IMAGENET_STD
        return np.ascontiguousarray(x, dtype=np.float32)

    def _infer(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on one band (padded to ``divisor`` unless the size is fixed)."""
        h, w = left.shape[:2]
        if self._fixed is None:
            ph = -h % self.divisor
            pw = -w % self.divisor
            if ph or pw:
                left = cv2.copyMakeBorder(left, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
                right = cv2.copyMakeBorder(right, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        feeds = {self._inputs[0].name: self._tensor(left), self._inputs[1].name: self._tensor(right)}
        outputs = self._session.run(None, feeds)
        disp = self._plane(outputs[0], left.shape[:2])[:h, :w] * np.float32(self.output_sign)
        conf = None
        if len(outputs) > 1:
            try:
                conf = self._plane(outputs[1], left.shape[:2])[:h, :w]
            except ParameterError:
                conf = None  # a second output of another shape is not a confidence map
        if conf is None:
            conf = np.isfinite(disp).astype(np.float32)
        return disp.astype(np.float32), conf.astype(np.float32)

    def _plane(self, out: Any, shape: tuple[int, int]) -> np.ndarray:
        arr = np.asarray(out, dtype=np.float32)
        if arr.ndim == 4 and arr.shape[:2] == (1, 1):
            arr = arr[0, 0]
        elif arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.shape != shape:
            raise ParameterError(
                f"ONNX model {self.model_path}: output of shape {np.asarray(out).shape} for an input of "
                f"{shape[1]}x{shape[0]}; expected N x 1 x H x W or N x H x W disparity"
            )
        return arr

    def _run_bands(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = left.shape[0]
        band = self.tile_height_px
        if self._fixed is not None or band is None or h <= band:
            return self._infer(left, right)
        overlap = self.tile_overlap_px
        step = band - overlap
        starts = list(range(0, max(h - band, 0) + 1, step))
        if starts[-1] + band < h:
            starts.append(h - band)
        acc = np.zeros(left.shape[:2], dtype=np.float64)
        acc_conf = np.zeros_like(acc)
        weight = np.zeros_like(acc)
        for i, y0 in enumerate(starts):
            y1 = min(y0 + band, h)
            d, c = self._infer(left[y0:y1], right[y0:y1])
            wgt = np.ones(y1 - y0, dtype=np.float64)
            if overlap:
                ramp = (np.arange(overlap, dtype=np.float64) + 1.0) / (overlap + 1.0)
                n = min(overlap, y1 - y0)
                if i > 0:
                    wgt[:n] = np.minimum(wgt[:n], ramp[:n])
                if i < len(starts) - 1:
                    wgt[-n:] = np.minimum(wgt[-n:], ramp[:n][::-1])
            valid = np.isfinite(d)
            wmap = np.where(valid, wgt[:, None], 0.0)
            acc[y0:y1] += np.where(valid, d, 0.0) * wmap
            acc_conf[y0:y1] += c * wmap
            weight[y0:y1] += wmap
        with np.errstate(invalid="ignore", divide="ignore"):
            disp = np.where(weight > 0, acc / weight, np.nan)
            conf = np.where(weight > 0, acc_conf / weight, 0.0)
        return disp.astype(np.float32), conf.astype(np.float32)

    @staticmethod
    def _upscale(disp: np.ndarray, conf: np.ndarray, w: int, h: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
        valid = np.isfinite(disp)
        big = cv2.resize(np.where(valid, disp, 0.0).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        big_valid = cv2.resize(valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        big_conf = cv2.resize(conf.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        out = np.where(big_valid, big * np.float32(factor), np.nan).astype(np.float32)
        return out, big_conf
