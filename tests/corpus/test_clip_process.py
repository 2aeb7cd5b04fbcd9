"""Privacy of ingested clips: faces unrecognisable in every stored frame of both views (checked against
hand-annotated boxes, not the project's detector), no location / serial / owner metadata and no audio stored."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from parallax.capture import read_clip
from parallax.corpus.clip_cut import downsize_views
from parallax.corpus.clip_reader import read_clip_sample_dir
from parallax.corpus.discovery import discover
from parallax.corpus.ingest import IngestSettings
from parallax.corpus.store import Corpus
from parallax.stereo.clip_rectify import rectify_frame
from parallax.stereo.types import Rectification

from .conftest import ALICE
from .video_factory import SECRET_BYTES, SECRETS, bida_frames, gopro_pan, write_sbs_video

pytestmark = pytest.mark.slow
#: Stored size of the face clip: the GoPro window is 960x960, stored as it is (faces ~45-65 px tall).
FACE_SIDE = 960
#: Required loss of fine-detail energy (variance of the Laplacian) in every face box.
MIN_LOSS = 0.65


def _energy(image: np.ndarray, box: np.ndarray) -> float:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = np.round(box).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _map_box(box: np.ndarray, H: np.ndarray) -> np.ndarray:
    """The axis-aligned box around ``box``'s corners mapped by homography ``H`` (original -> rectified)."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64).reshape(-1, 1, 2)
    mapped = cv2.perspectiveTransform(corners, H).reshape(-1, 2)
    return np.array([*mapped.min(axis=0), *mapped.max(axis=0)])


@pytest.fixture(scope="module")
def private_corpus(tmp_path_factory, captures_dir, video_dir):
    """Two stereo clips with secrets in their containers and an audio track, ingested:

    * ``people.mp4``: 6 frames panning over three people (GoPro shot), location (QuickTime ``mdta``
      ``com.apple.quicktime.location.ISO6709`` and ``location``), camera serial, author/artist, comment;
    * ``office.mov``: the bidavideo office, with the location in user data (``\\u00a9xyz``), artist and comment.
    """
    folder = tmp_path_factory.mktemp("private")
    frames, boxes = gopro_pan(captures_dir, frames=6)
    camera = {"com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 15 Pro"}
    people = write_sbs_video(folder / "people.mp4", frames, metadata={**SECRETS, **camera}, audio=True)
    office_meta = {k: SECRETS[k] for k in ("location", "artist", "comment")}
    office = write_sbs_video(folder / "office.mov", bida_frames(video_dir, width=320), metadata=office_meta,
                             audio=True, metadata_tags=False)  # fmt: skip
    for video in (people, office):
        data = video.read_bytes()
        assert all(s in data for s in (b"48.8584", b"Jane Q Owner", b"secret holiday")), video.name
    assert b"\xa9xyz" in office.read_bytes() and b"ISO6709" in people.read_bytes() and b"SN-4242" in people.read_bytes()
    root = folder / "corpus"
    corpus = Corpus.init(root)
    outcomes = corpus.add(discover([people, office])[0], ALICE, IngestSettings(max_side_px=FACE_SIDE, clip_fps=None))
    corpus.close()
    assert [o.status for o in outcomes] == ["accepted", "accepted"], outcomes
    return {"root": root, "outcomes": outcomes, "people": people, "boxes": boxes}


def test_every_stored_frame_of_both_views_has_the_faces_unrecognisable(private_corpus):
    out = private_corpus["outcomes"][1 if private_corpus["outcomes"][0].original_name.startswith("office") else 0]
    folder = private_corpus["root"] / "samples" / out.sample_id
    clip = read_clip_sample_dir(folder)
    meta = json.loads((folder / "meta.json").read_text())
    rect = Rectification.from_dict(meta["camera"]["rectification"])
    source = {f.index: f for f in read_clip(private_corpus["people"]).frames()}
    assert len(clip.frames) == 6
    losses = []
    for frame in clip.frames:
        t = frame.source_index
        # the reference: the same decoded frame, downsized and rectified as the ingest does, without blurring
        small_l, small_r, scale = downsize_views(source[t].left, source[t].right, FACE_SIDE)
        ref_l, ref_r = rectify_frame(rect, small_l, small_r)
        faces_l, faces_r = private_corpus["boxes"][t]
        for stored, ref, faces, H in (
            (frame.left, ref_l, faces_l, rect.H_left),
            (frame.right, ref_r, faces_r, rect.H_right),
        ):
            for box in faces:
                region = _map_box(box * scale, H)
                before, after = _energy(ref, region), _energy(stored, region)
                assert before > 50.0  # a face with detail to lose
                losses.append(1.0 - after / before)
    assert len(losses) == 6 * 2 * 3
    print(f"fine-detail energy lost per face region: min {min(losses):.3f}, median {np.median(losses):.3f}")
    assert min(losses) >= MIN_LOSS
    assert meta["privacy"]["frames_with_faces"] == 6 and meta["privacy"]["boxes_blurred"] >= 36


def test_no_stored_byte_holds_location_serial_or_owner_and_no_file_is_audio(private_corpus):
    root = private_corpus["root"]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "meta.json" for p in files) and len(files) > 20
    for path in files:
        data = path.read_bytes()
        for secret in SECRET_BYTES:
            assert secret not in data, f"{secret!r} in {path}"
        if "samples" in path.parts:  # sample folders hold PNG images and meta.json, nothing else
            assert path.name == "meta.json" or data[:8] == b"\x89PNG\r\n\x1a\n", path
    for o in private_corpus["outcomes"]:
        meta = json.loads((root / "samples" / o.sample_id / "meta.json").read_text())
        priv = meta["privacy"]
        assert priv["audio"].startswith("the source's audio stream was dropped")
        removed = set(priv["metadata_keys_removed"])
        assert "location" in removed and "comment" in removed and "artist" in removed
        facts = meta["camera"]["facts"]
        kept = {"format", "layout", "projection", "fps", "width", "height", "baseline_m", "hfov_deg", "make", "model"}
        assert set(facts) <= kept
        for key in ("streams", "files"):
            assert not any(s.get("encoding", "").startswith(("aac", "audio")) for s in meta[key].values())
    people = next(o for o in private_corpus["outcomes"] if o.original_name.startswith("people"))
    meta = json.loads((root / "samples" / people.sample_id / "meta.json").read_text())
    removed = set(meta["privacy"]["metadata_keys_removed"])
    assert {"com.apple.quicktime.location.ISO6709", "com.apple.quicktime.camera.serial"} <= removed
    assert set(SECRETS) <= removed
    # the camera make and model are the container values kept (a camera fact, like a still's EXIF make/model)
    assert meta["camera"]["facts"]["make"] == "Apple" and meta["source"]["device"] == "Apple iPhone 15 Pro"


def test_the_secrets_are_in_the_source_but_not_in_the_catalog(private_corpus):
    data = (private_corpus["root"] / "catalog.sqlite").read_bytes()
    assert not any(s in data for s in SECRET_BYTES)
    assert all(Path(p).suffix != ".mp4" for p in (private_corpus["root"] / "samples").rglob("*"))
