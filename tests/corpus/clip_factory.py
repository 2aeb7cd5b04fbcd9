"""Clip samples for the export and loader tests: seeded synthetic clips, and a real clip from the bidavideo frames."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from parallax.corpus.clip_sample import ClipFrame, ClipInfo, ClipSample
from parallax.corpus.consent import Consent

BIDA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "video" / "bidavideo-demo"
OCCLUSION_INFO = {"occlusion": {"content": "left pixels the right view does not see", "nodata": "none"}}


def pose_at(t: float) -> np.ndarray:
    """A smooth camera path: yaw 0.1 rad/s, moving 0.5 m/s along x and 0.2 m/s along z (camera-to-world)."""
    c, s = math.cos(0.1 * t), math.sin(0.1 * t)
    pose = np.eye(4)
    pose[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    pose[:3, 3] = [0.5 * t, 0.0, 0.2 * t]
    return pose


def make_clip(
    consent: Consent,
    index: int,
    *,
    frames: int = 6,
    size: tuple[int, int] = (24, 32),
    kind: str = "synthetic",
    fps: float = 10.0,
    unknown_pose: tuple[int, ...] = (),
) -> ClipSample:
    """A seeded clip of random texture shifted by a known disparity (4 px), with per-frame poses and K.

    Frame ``i`` is at ``t = i / fps + index`` seconds; its pose is :func:`pose_at(t)` (None for
    frames in ``unknown_pose``); ``K`` changes slightly per frame (a zoom) so frames are told apart.
    """
    rng = np.random.default_rng(5000 + index)
    h, w = size
    out = []
    for i in range(frames):
        t = index + i / fps
        wide = rng.integers(0, 256, (h, w + 8, 3), dtype=np.uint8)
        disparity = np.full((h, w), 4.0, dtype=np.float32)
        disparity[0, :2] = np.nan  # a few pixels without a value
        focal = 30.0 + i
        out.append(
            ClipFrame(
                timestamp_s=t,
                left=np.ascontiguousarray(wide[:, :w]),
                right=np.ascontiguousarray(wide[:, 4 : w + 4]),
                disparity_px=disparity,
                depth=(focal * 0.1 / disparity).astype(np.float32),
                K=[[focal, 0, (w - 1) / 2], [0, focal, (h - 1) / 2], [0, 0, 1]],
                pose=None if i in unknown_pose else pose_at(t),
                source_index=2 * i,
                extras={"occlusion": np.zeros((h, w), dtype=bool)},
            )
        )
    info = ClipInfo(
        sample_id=f"clip-{consent.contributor}-{index:03d}",
        fps=fps,
        baseline_m=0.1,
        depth_is_metric=True,
        poses_are_metric=True,
        world_frame="the test scene's frame",
        source_kind=kind,  # type: ignore[arg-type]
        source_format="synthetic" if kind == "synthetic" else "frames",
        layout=None if kind == "synthetic" else "separate",
        device="test-renderer",
        original_name=f"sequence-{index}",
        license=consent.license,
        consent_id=consent.consent_id,
        contributor=consent.contributor,
        lineage={"generator": {"kind": "shifted-noise-sequence"}, "seed": 5000 + index},
        extras_info=OCCLUSION_INFO,
    )
    return ClipSample(info=info, frames=tuple(out))


def real_clip(consent: Consent, *, frames: int = 10, width: int = 160) -> ClipSample:
    """The real street clip of ``bidavideo-demo`` (rectified frames, 10 fps), downsized to ``width``, with disparity
    from the stills matcher; poses unknown (no tracking here), ``source_kind="video"``."""
    from parallax.stereo.disparity import estimate_disparity

    out = []
    for i in range(frames):
        views = []
        for side in ("left", "right"):
            bgr = cv2.imread(str(BIDA / side / f"{side}{i:06d}.png"), cv2.IMREAD_COLOR)
            h = round(bgr.shape[0] * width / bgr.shape[1])
            views.append(np.ascontiguousarray(cv2.resize(bgr, (width, h), interpolation=cv2.INTER_AREA)[:, :, ::-1]))
        left, right = views
        disparity = estimate_disparity(left, right, min_disparity=0, max_disparity=24)
        f = 1000.0 * width / 1280
        out.append(
            ClipFrame(
                timestamp_s=i / 10.0,
                left=left,
                right=right,
                disparity_px=disparity,
                K=[[f, 0, (width - 1) / 2], [0, f, (left.shape[0] - 1) / 2], [0, 0, 1]],
                source_index=i,
            )
        )
    info = ClipInfo(
        sample_id="clip-bidavideo",
        fps=10.0,
        source_kind="video",
        source_format="frames",
        layout="separate",
        original_name="bidavideo-demo",
        license=consent.license,
        consent_id=consent.consent_id,
        contributor=consent.contributor,
        processing={"max_side_px": width, "original_width": 1280, "original_height": 720},
        lineage={"matcher": {"name": "default", "min_disparity": 0, "max_disparity": 24}},
    )
    return ClipSample(info=info, frames=tuple(out))


def contributor_in(split: str, stem: str = "seq") -> Consent:
    """A CC0 consent whose contributor falls into ``split`` (by :func:`parallax.corpus.export.split_of`)."""
    from parallax.corpus.export import split_of

    name = next(f"{stem}{i}" for i in range(1000) if split_of(f"{stem}{i}") == split)
    return Consent(contributor=name, license="CC0-1.0", allow_training=True, date="2026-04-03")


#: Clips of the test corpus: (split, index, frames, unknown poses); plus the real 10-frame clip in train.
CLIP_PLAN = (("train", 1, 5, (2,)), ("train", 2, 6, ()), ("train", 3, 8, ()), ("val", 4, 4, ()), ("test", 5, 3, ()))


def build_clip_corpus(root: Path, *, real: bool = True) -> dict:
    """A corpus with still pairs and clips in every split (see :data:`CLIP_PLAN`), and the clips by id."""
    from parallax.corpus.store import Corpus

    from .conftest import make_sample

    corpus = Corpus.init(root)
    people = {split: contributor_in(split) for split in ("train", "val", "test")}
    clips: dict[str, ClipSample] = {}
    stills: dict[str, str] = {}
    for k, (split, consent) in enumerate(people.items()):
        for j in range(2 if split == "train" else 1):
            sample = make_sample(consent, 100 + 10 * k + j)  # the index seeds the pixels: unique across the corpus
            assert corpus.add_sample(sample, consent).status == "accepted"
            stills[sample.sample_id] = split
    for split, index, frames, unknown in CLIP_PLAN:
        clip = make_clip(people[split], index, frames=frames, unknown_pose=unknown)
        assert corpus.add_sample(clip, people[split]).status == "accepted"
        clips[clip.sample_id] = clip
    if real:
        clip = real_clip(people["train"])
        assert corpus.add_sample(clip, people["train"]).status == "accepted"
        clips[clip.sample_id] = clip
    corpus.close()
    split_of_clip = {
        sid: split for split, index, *_ in CLIP_PLAN for sid in [f"clip-{people[split].contributor}-{index:03d}"]
    }
    if real:
        split_of_clip["clip-bidavideo"] = "train"
    return {"root": root, "people": people, "clips": clips, "stills": stills, "clip_split": split_of_clip}
