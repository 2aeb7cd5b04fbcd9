"""Streaming windows out of a WebDataset shard: order, bounded reading, and damaged shards refused with one clear line."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from parallax.corpus.export import export_corpus
from parallax.corpus.store import Corpus
from parallax.corpus.wds_read import WantedKey, read_shard
from parallax.errors import InputFileError

from .clip_factory import make_clip
from .conftest import ALICE


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    """The members of a one-clip shard (7 frames), as (name, bytes) in tar order, and the clip."""
    base = tmp_path_factory.mktemp("wds-read")
    corpus = Corpus.init(base / "corpus")
    clip = make_clip(ALICE, 7, frames=7, unknown_pose=(4,))
    corpus.add_sample(clip, ALICE)
    result = export_corpus(corpus, fmt="webdataset", out=str(base / "e"), ratios=(1.0, 0.0, 0.0))
    corpus.close()
    with tarfile.open(base / "e" / result.shards[0]["path"]) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    return {"members": members, "clip": clip, "key": clip.sample_id}


def _tar(members) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def _read(members, key, starts, length):
    wanted = {key: WantedKey(key, "clip", tuple(starts))}
    return list(read_shard(_tar(members), wanted, length=length, where="test.tar"))


def test_windows_come_in_order_with_their_frames(shard):
    out = _read(shard["members"], shard["key"], [0, 2, 4], 3)
    assert [[f["index"] for f in frames] for _, (_, frames) in out] == [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    clip = shard["clip"]
    for _, (meta, frames) in out:
        assert meta["sample_id"] == clip.sample_id
        for f in frames:
            assert np.array_equal(f["left"], clip.frames[f["index"]].left)
            assert f["timestamp_s"] == clip.frames[f["index"]].timestamp_s
    assert np.isnan(out[2][1][1][0]["pose"]).all()  # frame 4: tracking lost


def test_a_missing_frame_member_is_a_damaged_export(shard):
    members = [(n, d) for n, d in shard["members"] if not n.endswith(".000003.valid.png")]
    with pytest.raises(InputFileError, match=r"test.tar .*frames 2\.\.4 are missing; .*re-export"):
        _read(members, shard["key"], [0, 2], 3)
    assert len(_read(members, shard["key"], [4], 3)) == 1  # windows without frame 3 still read


def test_frames_before_the_json_and_a_missing_key_are_refused(shard):
    members = [m for m in shard["members"] if not m[0].endswith(".json")] + [
        m for m in shard["members"] if m[0].endswith(".json")
    ]
    with pytest.raises(InputFileError, match="before the clip's .json"):
        _read(members, shard["key"], [0], 2)
    with pytest.raises(InputFileError, match="lacks sample other"):
        list(read_shard(_tar(shard["members"]), {"other": WantedKey("other", "still")}, length=1, where="test.tar"))
    meta = json.loads(dict(shard["members"])[f"{shard['key']}.json"])
    assert meta["window"] == {"start": 0, "stop": 7}


def test_at_most_one_window_of_frames_is_held(monkeypatch, tmp_path):
    """A long clip streams through with at most T frames (raw or decoded) held, however long the clip."""
    from parallax.corpus import wds_read

    corpus = Corpus.init(tmp_path / "corpus")
    clip = make_clip(ALICE, 9, frames=40, size=(12, 16))
    corpus.add_sample(clip, ALICE)
    result = export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "e"), ratios=(1.0, 0.0, 0.0))
    corpus.close()
    held: list[int] = []
    add = wds_read._ClipWindows.add

    def watched(self, rest, data):
        yield from add(self, rest, data)
        held.append(len(self.raw.keys() | self.decoded.keys()))

    monkeypatch.setattr(wds_read._ClipWindows, "add", watched)
    wanted = {clip.sample_id: WantedKey(clip.sample_id, "clip", tuple(range(38)))}
    with open(tmp_path / "e" / result.shards[0]["path"], "rb") as fh:
        out = list(read_shard(fh, wanted, length=3, where="long.tar"))
    assert [frames[0]["index"] for _, (_, frames) in out] == list(range(38))
    assert max(held) <= 3 and len(held) > 200
