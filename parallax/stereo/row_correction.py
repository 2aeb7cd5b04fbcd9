"""A smooth vertical correction of the rectified right view: rows that no global model aligns.

A global rectification (homographies, a radial lens model) leaves a residual
vertical offset that varies smoothly over the image when the two cameras'
lenses differ, a lens is decentred, or the model is too simple for the lens
(fisheye action cameras). :class:`RowCorrection` stores that offset as a
bilinear grid over the rectified frame and moves the right view's rows by it::

    y_before = y_after + offset(x_after, y_after)

(``x`` is unchanged, so disparities keep their meaning). It is fitted by
:func:`fit_row_correction` to vertical offsets measured between the globally
rectified views (dense optical flow at pixels with vertical texture), with a
smoothness penalty that fills regions without measurements from their
neighbours, and iteratively reweighted least squares against outliers.

Pixel convention: ``(0, 0)`` is the centre of the top-left pixel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from parallax.errors import ParameterError

__all__ = ["RowCorrection", "fit_row_correction", "measure_row_offsets"]


@dataclass(frozen=True, kw_only=True)
class RowCorrection:
    """Vertical offsets on a regular grid over the rectified right view (see the module docstring).

    Parameters
    ----------
    values_px : numpy.ndarray
        ``ny x nx`` offsets in rectified pixels at the grid nodes; node ``(j, i)``
        sits at ``(i * span_x_px / (nx - 1), j * span_y_px / (ny - 1))`` in the
        grid's frame.
    span_x_px, span_y_px : float
        Extent of the grid's frame (pixels); positions outside are clamped to it.
    origin_x_px, origin_y_px : float
        Position of the rectified view's pixel ``(0, 0)`` in the grid's frame
        (non-zero after the views are cropped).
    """

    values_px: np.ndarray
    span_x_px: float
    span_y_px: float
    origin_x_px: float = 0.0
    origin_y_px: float = 0.0

    def __post_init__(self) -> None:
        values = np.array(self.values_px, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 2 or not np.all(np.isfinite(values)):
            raise ParameterError(f"RowCorrection.values_px must be a finite grid of at least 2x2, got {values.shape}")
        values.flags.writeable = False
        object.__setattr__(self, "values_px", values)
        for name in ("span_x_px", "span_y_px", "origin_x_px", "origin_y_px"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ParameterError(f"RowCorrection.{name} must be finite, got {value!r}")
            object.__setattr__(self, name, value)
        if self.span_x_px <= 0 or self.span_y_px <= 0:
            raise ParameterError(f"RowCorrection spans must be positive, got {self.span_x_px}x{self.span_y_px}")

    def offset(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Offset (pixels) at rectified positions ``x``, ``y`` (arrays of one shape); bilinear, clamped at the edges."""
        ny, nx = self.values_px.shape
        gx = np.clip((np.asarray(x, dtype=np.float64) + self.origin_x_px) / self.span_x_px * (nx - 1), 0, nx - 1)
        gy = np.clip((np.asarray(y, dtype=np.float64) + self.origin_y_px) / self.span_y_px * (ny - 1), 0, ny - 1)
        i0 = np.minimum(np.floor(gx).astype(np.int64), nx - 2)
        j0 = np.minimum(np.floor(gy).astype(np.int64), ny - 2)
        fx, fy = gx - i0, gy - j0
        v = self.values_px
        return (
            v[j0, i0] * (1 - fx) * (1 - fy)
            + v[j0, i0 + 1] * fx * (1 - fy)
            + v[j0 + 1, i0] * (1 - fx) * fy
            + v[j0 + 1, i0 + 1] * fx * fy
        )

    def before(self, xy: np.ndarray) -> np.ndarray:
        """Corrected positions (``Nx2``) -> positions before the correction."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return np.c_[xy[:, 0], xy[:, 1] + self.offset(xy[:, 0], xy[:, 1])]

    def after(self, xy: np.ndarray, iterations: int = 6) -> np.ndarray:
        """Positions before the correction (``Nx2``) -> corrected positions (fixed-point iteration)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        y = xy[:, 1].copy()
        for _ in range(iterations):
            y = xy[:, 1] - self.offset(xy[:, 0], y)
        return np.c_[xy[:, 0], y]

    def shifted(self, dx: float, dy: float) -> RowCorrection:
        """The same correction after the rectified frame is translated by ``(dx, dy)`` (``x_new = x + dx``)."""
        return RowCorrection(
            values_px=self.values_px,
            span_x_px=self.span_x_px,
            span_y_px=self.span_y_px,
            origin_x_px=self.origin_x_px - dx,
            origin_y_px=self.origin_y_px - dy,
        )

    @property
    def max_abs_px(self) -> float:
        """Largest absolute offset on the grid (pixels)."""
        return float(np.max(np.abs(self.values_px)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "values_px": self.values_px.tolist(),
            "span_x_px": self.span_x_px,
            "span_y_px": self.span_y_px,
            "origin_x_px": self.origin_x_px,
            "origin_y_px": self.origin_y_px,
            "convention": "y_before = y + bilinear(values_px at (x + origin_x, y + origin_y) over span); x unchanged",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RowCorrection:
        """Inverse of :meth:`to_dict`."""
        return cls(
            values_px=np.array(data["values_px"], dtype=np.float64),
            span_x_px=float(data["span_x_px"]),
            span_y_px=float(data["span_y_px"]),
            origin_x_px=float(data.get("origin_x_px", 0.0)),
            origin_y_px=float(data.get("origin_y_px", 0.0)),
        )


def _design(
    x: np.ndarray, y: np.ndarray, nx: int, ny: int, span_x: float, span_y: float
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    gx = np.clip(x / span_x * (nx - 1), 0, nx - 1)
    gy = np.clip(y / span_y * (ny - 1), 0, ny - 1)
    i0 = np.minimum(np.floor(gx).astype(np.int64), nx - 2)
    j0 = np.minimum(np.floor(gy).astype(np.int64), ny - 2)
    fx, fy = gx - i0, gy - j0
    idx = [j0 * nx + i0, j0 * nx + i0 + 1, (j0 + 1) * nx + i0, (j0 + 1) * nx + i0 + 1]
    wts = [(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy]
    return tuple(idx), tuple(wts)


def _laplacian(nx: int, ny: int) -> np.ndarray:
    rows = []
    for j in range(ny):
        for i in range(nx):
            for (ia, ja), (ib, jb) in (((i - 1, j), (i + 1, j)), ((i, j - 1), (i, j + 1))):
                if 0 <= ia < nx and 0 <= ib < nx and 0 <= ja < ny and 0 <= jb < ny:
                    r = np.zeros(nx * ny)
                    r[j * nx + i] = -2.0
                    r[ja * nx + ia] = 1.0
                    r[jb * nx + ib] = 1.0
                    rows.append(r)
    return np.array(rows)


def fit_row_correction(
    x: np.ndarray,
    y: np.ndarray,
    offset_px: np.ndarray,
    *,
    width: int,
    height: int,
    cells: tuple[int, int] = (12, 9),
    smoothness: float = 0.3,
    weights: np.ndarray | None = None,
) -> RowCorrection:
    """Fit a :class:`RowCorrection` to measured offsets.

    Parameters
    ----------
    x, y : numpy.ndarray
        Rectified right-view positions *after* the correction (i.e. the left
        view's row), pixels.
    offset_px : numpy.ndarray
        Measured ``y_before - y_after`` at those positions, pixels.
    width, height : int
        Size of the rectified frame.
    cells : tuple of int
        Grid cells along x and y (nodes = cells + 1).
    smoothness : float
        Weight of the second-difference penalty between nodes, relative to the
        data (scaled by the number of samples per node).
    weights : numpy.ndarray, optional
        Per-sample weights (e.g. texture strength), default 1.

    Returns
    -------
    RowCorrection
        Fitted with five rounds of iteratively reweighted least squares
        (Cauchy weights, scale from the median absolute residual).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    v = np.asarray(offset_px, dtype=np.float64).ravel()
    if not (x.shape == y.shape == v.shape):
        raise ParameterError("fit_row_correction: x, y and offset_px must have one shape")
    nx, ny = int(cells[0]) + 1, int(cells[1]) + 1
    if nx < 2 or ny < 2:
        raise ParameterError(f"fit_row_correction: cells must be at least 1x1, got {cells!r}")
    span_x, span_y = float(max(width - 1, 1)), float(max(height - 1, 1))
    n_nodes = nx * ny
    base = np.ones_like(v) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if len(v) == 0:
        return RowCorrection(values_px=np.zeros((ny, nx)), span_x_px=span_x, span_y_px=span_y)
    idx, wts = _design(x, y, nx, ny, span_x, span_y)
    lap = _laplacian(nx, ny)
    reg = smoothness * math.sqrt(len(v) / n_nodes) * lap
    reg_normal = reg.T @ reg
    robust: np.ndarray = np.ones_like(v)
    values: np.ndarray = np.zeros(n_nodes)
    for _ in range(5):
        wgt = base * robust
        # normal equations, accumulated sparsely: each sample touches four nodes
        normal = reg_normal.copy()
        rhs = np.zeros(n_nodes)
        for ka, wa in zip(idx, wts, strict=True):
            np.add.at(rhs, ka, wgt * wa * v)
            for kb, wb in zip(idx, wts, strict=True):
                np.add.at(normal, (ka, kb), wgt * wa * wb)
        values = np.linalg.solve(normal + 1e-9 * np.eye(n_nodes), rhs)
        fitted = sum(values[k] * w_k for k, w_k in zip(idx, wts, strict=True))
        r = np.abs(v - fitted)
        scale = max(1.4826 * float(np.median(r)), 0.25)
        robust = 1.0 / (1.0 + (r / (2.0 * scale)) ** 2)
    return RowCorrection(values_px=values.reshape(ny, nx), span_x_px=span_x, span_y_px=span_y)


def measure_row_offsets(
    left: np.ndarray, right: np.ndarray, *, step_px: int = 4, max_fb_px: float = 0.5, min_gradient: float = 20.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertical offsets between two roughly rectified grey views, from dense optical flow.

    DIS optical flow (OpenCV, "medium" preset) both ways; a pixel is kept when
    both views have content there, the forward-backward error is at most
    ``max_fb_px`` and the left view has a vertical gradient of at least
    ``min_gradient`` (vertical flow is only measurable across horizontal edges).
    Sampled every ``step_px`` pixels.

    Parameters
    ----------
    left, right : numpy.ndarray
        ``HxW`` uint8 grey views of one size (black = no content).

    Returns
    -------
    x_right, y, offset, weight : numpy.ndarray
        Right-view x and the shared row (left-view y) of each sample, the
        measured ``y_right - y_left`` (pixels of these views), and a weight
        (vertical gradient strength, capped).
    """
    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    h, w = left.shape
    fw = np.asarray(dis.calc(left, right, np.zeros((h, w, 2), np.float32)))
    bw = np.asarray(dis.calc(right, left, np.zeros((h, w, 2), np.float32)))
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(
        bw, xs + fw[..., 0], ys + fw[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=1e6
    )
    fb = np.hypot(fw[..., 0] + back[..., 0], fw[..., 1] + back[..., 1])
    grad = np.abs(cv2.Sobel(left, cv2.CV_32F, 0, 1, ksize=3))
    content_r = cv2.remap(
        (right > 0).astype(np.uint8),
        xs + fw[..., 0],
        ys + fw[..., 1],
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
    )
    ok = (fb <= max_fb_px) & (grad >= min_gradient) & (left > 0) & (content_r > 0)
    sub = np.zeros_like(ok)
    sub[::step_px, ::step_px] = True
    yy, xx = np.nonzero(ok & sub)
    flow = fw[yy, xx]
    weight = np.minimum(grad[yy, xx], 4.0 * min_gradient) / (4.0 * min_gradient)
    return (
        xx + flow[:, 0].astype(np.float64),
        yy.astype(np.float64),
        flow[:, 1].astype(np.float64),
        weight.astype(np.float64),
    )
