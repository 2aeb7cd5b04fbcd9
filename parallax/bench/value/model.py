"""The view-synthesis model of the data-value experiment: predict the right view from the left one.

:class:`ViewSynthNet` (a compact U-Net) reads the left view and predicts two
disparity maps, Monodepth-style: ``disparity_right`` in pixels of the right
view and ``disparity_left`` in pixels of the left view (both with
``x_right = x_left - d``, ``docs/conventions.md``). The right view is made by
sampling the left view at ``x + disparity_right(x)`` (a differentiable
backward warp) and refining the warped image with a small residual network that
fills what the warp cannot (disocclusions, reflections, the border the left
camera never saw).

:func:`view_synthesis_loss` trains it from a stereo pair alone (photometric
terms in both directions and edge-aware smoothness), plus a supervised term on
the pair's disparity where it has one (exact for synthetic pairs, the matcher's
for real corpus samples).

Tensors are ``N x C x H x W`` float32; images in ``[0, 1]``; disparity in
pixels of the tensor's own width.
"""

from __future__ import annotations

from typing import Any

from parallax.bench.value.settings import DOWNSAMPLE, LossWeights, ModelConfig
from parallax.errors import ParameterError, require

__all__ = ["ViewSynthNet", "warp_horizontal", "view_synthesis_loss"]

torch: Any = require("torch", "torch", "parallax bench value")
nn: Any = torch.nn
F: Any = torch.nn.functional


def _block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> Any:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation),
        nn.ELU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.ELU(inplace=True),
    )


def warp_horizontal(image: Any, offset_px: Any) -> Any:
    """Sample ``image`` at ``x + offset_px`` along each row (bilinear, border pixels repeated).

    Parameters
    ----------
    image : torch.Tensor
        ``N x C x H x W``.
    offset_px : torch.Tensor
        ``N x 1 x H x W`` horizontal offset in pixels of ``image``.

    Returns
    -------
    torch.Tensor
        ``N x C x H x W``: ``out[..., y, x] = image[..., y, x + offset_px[y, x]]``.
        The right view from the left one is ``warp_horizontal(left, +disparity_right)``;
        the left view from the right one is ``warp_horizontal(right, -disparity_left)``.
    """
    n, _, h, w = image.shape
    xs = torch.linspace(-1.0, 1.0, w, device=image.device, dtype=image.dtype)
    ys = torch.linspace(-1.0, 1.0, h, device=image.device, dtype=image.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    gx = gx.unsqueeze(0) + offset_px[:, 0] * (2.0 / max(w - 1, 1))
    grid = torch.stack((gx, gy.unsqueeze(0).expand_as(gx)), dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


class ViewSynthNet(nn.Module):
    """Left view -> (right view, right-view disparity, left-view disparity).

    ``forward(left)`` takes ``N x 3 x H x W`` images in ``[0, 1]`` (H and W multiples of
    :data:`DOWNSAMPLE`) and returns a dict with ``right`` (refined prediction),
    ``warped`` (the plain warp), ``disparity_right`` and ``disparity_left``
    (``N x 1 x H x W``, pixels).

    The U-Net works at half resolution and below (its first convolution has
    stride 2); the disparities are upsampled to full resolution, and only the
    warp and a small dilated refinement network run at full resolution.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c1, c2, c3, c4 = self.config.channels
        self.stem = _block(3, c1, stride=2)
        self.down = nn.ModuleList([_block(c1, c2, 2), _block(c2, c3, 2), _block(c3, c4, 2)])
        self.up = nn.ModuleList([_block(c4 + c3, c3), _block(c3 + c2, c2), _block(c2 + c1, c1)])
        self.head = nn.Conv2d(c1, 2, 3, padding=1)
        r = self.config.refine_channels
        self.refine = nn.Sequential(
            nn.Conv2d(3 + 3 + 2, r, 3, padding=1),
            nn.ELU(inplace=True),
            nn.Conv2d(r, r, 3, padding=3, dilation=3),
            nn.ELU(inplace=True),
            nn.Conv2d(r, 3, 3, padding=1),
        )
        lo, hi, init = self.config.min_disparity_frac, self.config.max_disparity_frac, self.config.init_disparity_frac
        p = (init - lo) / (hi - lo)
        with torch.no_grad():
            self.head.weight.mul_(0.1)
            self.head.bias.fill_(float(torch.logit(torch.tensor(p))))
            self.refine[-1].weight.mul_(0.1)
            self.refine[-1].bias.zero_()

    def forward(self, left: Any) -> dict[str, Any]:
        _, _, h, w = left.shape
        if h % DOWNSAMPLE or w % DOWNSAMPLE:
            raise ParameterError(f"ViewSynthNet needs sides that are multiples of {DOWNSAMPLE}, got {w}x{h}")
        skips = [self.stem(left * 2.0 - 1.0)]
        for layer in self.down:
            skips.append(layer(skips[-1]))
        y = skips.pop()
        for layer in self.up:
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = layer(torch.cat((y, skip), dim=1))
        lo, hi = self.config.min_disparity_frac, self.config.max_disparity_frac
        frac = lo + (hi - lo) * torch.sigmoid(self.head(y))
        disp = F.interpolate(frac, size=(h, w), mode="bilinear", align_corners=False) * w
        d_right, d_left = disp[:, :1], disp[:, 1:]
        warped = warp_horizontal(left, d_right)
        xs = torch.arange(w, device=left.device, dtype=left.dtype).view(1, 1, 1, w)
        unseen = ((xs + d_right) > (w - 1)).to(left.dtype)  # right-view pixels the left camera did not see
        cue = torch.cat((warped, left, d_right / w * 10.0, unseen), dim=1)
        right = (warped + self.refine(cue)).clamp(0.0, 1.0)
        return {"right": right, "warped": warped, "disparity_right": d_right, "disparity_left": d_left}


def _ssim_map(a: Any, b: Any) -> Any:
    """Monodepth's 3x3 SSIM dissimilarity ``(1 - SSIM) / 2`` per pixel (training loss only)."""
    c1, c2 = 0.01**2, 0.03**2
    pad_a, pad_b = F.pad(a, (1, 1, 1, 1), mode="reflect"), F.pad(b, (1, 1, 1, 1), mode="reflect")
    mu_a, mu_b = F.avg_pool2d(pad_a, 3, 1), F.avg_pool2d(pad_b, 3, 1)
    va = F.avg_pool2d(pad_a * pad_a, 3, 1) - mu_a**2
    vb = F.avg_pool2d(pad_b * pad_b, 3, 1) - mu_b**2
    cov = F.avg_pool2d(pad_a * pad_b, 3, 1) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return ((1 - ssim) / 2).clamp(0, 1)


def _photometric(pred: Any, target: Any, *, ssim: bool = True) -> Any:
    if not ssim:
        return (pred - target).abs().mean()
    return (0.85 * _ssim_map(pred, target) + 0.15 * (pred - target).abs()).mean()


def _smoothness(disp: Any, image: Any) -> Any:
    d = disp / (disp.abs().mean(dim=(2, 3), keepdim=True) + 1e-3)
    dx, dy = (d[..., :, 1:] - d[..., :, :-1]).abs(), (d[..., 1:, :] - d[..., :-1, :]).abs()
    ix = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(1, keepdim=True)
    iy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(1, keepdim=True)
    return (dx * torch.exp(-10 * ix)).mean() + (dy * torch.exp(-10 * iy)).mean()


def _supervised(pred: Any, target: Any, valid: Any, width: int) -> Any:
    if not bool(valid.any()):
        return pred.sum() * 0.0
    scale = 0.01 * width  # errors in percent of the width, so sizes weigh alike
    return F.smooth_l1_loss(pred[valid] / scale, target[valid] / scale)


def view_synthesis_loss(
    out: dict[str, Any], batch: dict[str, Any], weights: LossWeights | None = None
) -> tuple[Any, dict[str, float]]:
    """Training loss of :class:`ViewSynthNet` on a batch of stereo pairs.

    Parameters
    ----------
    out : dict
        What :meth:`ViewSynthNet.forward` returned for ``batch["left"]``.
    batch : dict
        ``left``, ``right`` (``N x 3 x H x W`` in [0, 1]); ``disparity_left``,
        ``disparity_right`` (``N x 1 x H x W`` pixels) with ``valid_left``,
        ``valid_right`` (bool, same shape) where the pair has a disparity.
    weights : LossWeights, optional

    Returns
    -------
    loss : torch.Tensor
        Scalar: photometric terms (0.85 SSIM + 0.15 L1) of the refined right
        view, of the plain warp, and of the left view rebuilt from the true
        right view with ``disparity_left``; edge-aware smoothness of both
        disparities; smooth-L1 on the disparities where ``valid``.
    parts : dict of str to float
        Each term's value, for logging.
    """
    w = weights or LossWeights()
    width = int(batch["left"].shape[-1])
    left_rebuilt = warp_horizontal(batch["right"], -out["disparity_left"])
    parts = {
        "right": _photometric(out["right"], batch["right"]),
        "warped": _photometric(out["warped"], batch["right"], ssim=False),
        "left_reconstruction": _photometric(left_rebuilt, batch["left"], ssim=False),
        "smoothness": _smoothness(out["disparity_left"], batch["left"])
        + _smoothness(out["disparity_right"], batch["right"]),
        "supervised": _supervised(out["disparity_left"], batch["disparity_left"], batch["valid_left"], width)
        + _supervised(out["disparity_right"], batch["disparity_right"], batch["valid_right"], width),
    }
    loss = sum(getattr(w, name) * value for name, value in parts.items())
    return loss, {name: float(value.detach()) for name, value in parts.items()}
