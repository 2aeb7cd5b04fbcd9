"""The corpus: consented, private, deduplicated real 3D training data (see ``docs/corpus.md``).

Modules, in the order data flows through them:

``sample``       the one :class:`Sample` type (a still pair) and its self-describing folder layout
``clip_sample``  :class:`ClipSample` (a stereo clip over time: frames, poses, timestamps), beside ``Sample``
``clip_folder``  clip sample folders written whole or frame by frame (``clip_reader``: read whole or by window)
``folder``       what both folder layouts share: manifests, atomic writing, hash-verified reading
``consent``      consent records (contributor, licence, allow_training, date)
``privacy``      face (and plate) blurring in both views; camera facts without private metadata
``quality``      quality scores and the accept/reject decision with reasons
``dedup``        exact (pixel SHA-256) and near (perceptual hash) duplicates
``ingest``       finding captures and the per-capture step (pure; used by both engines)
``clip_ingest``  stereo videos and frame folders: cut into clips (``clip_cut``), processed in chunks
                 (``clip_process``), judged (``clip_quality``), deduplicated by frame (``clip_dedup``)
                 and committed from a staging folder (``clip_commit``, ``clip_manifest``)
``catalog``      the SQLite catalog
``store``        a corpus on disk: init/open, crash-safe commits, recovery
``maintenance``  withdrawal with tombstones and stale exports; verify
``export``       WebDataset / Parquet shards of stills and clips, split by contributor (``export_units``: what a
                 shard holds; ``export_wds``, ``export_parquet``: the two layouts; ``card``: README;
                 ``croissant``: croissant.json that mlcroissant reads)
``wds_read``     reading WebDataset shards: stills, and windows of clip frames streamed out of a tar
``loader``       a PyTorch IterableDataset of stills or clip windows over exported shards (extra ``torch``)
``ray_engine``   the per-capture step on Ray Data (extra ``ray``)
``storage``      local folders or fsspec URLs
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parallax._lazy import lazy_getattr

__all__ = [
    "DEFAULT_MAX_SIDE_PX",
    "DEFAULT_CLIP_MAX_S",
    "DEFAULT_CLIP_FPS",
    "DEFAULT_SCENE_CUT",
    "DEFAULT_CLIP_MIN_FRAMES",
    "DEFAULT_CLIP_CHUNK_FRAMES",
    "Sample",
    "write_sample_dir",
    "read_sample_dir",
    "ClipSample",
    "ClipFrame",
    "ClipInfo",
    "write_clip_sample_dir",
    "read_clip_sample_dir",
    "open_clip_sample_dir",
    "Corpus",
    "Consent",
    "load_consent",
]

#: Longest side of the stored views of a corpus sample, pixels, unless ``--max-side`` /
#: ``IngestSettings(max_side_px=...)`` says otherwise (captures are downsized, never upsized).
#: Defined here, in the package's import-free ``__init__``, so the command line can show it cheaply.
DEFAULT_MAX_SIDE_PX = 1280
#: How videos are cut into clips unless ``parallax corpus add`` / ``IngestSettings`` say otherwise
#: (``parallax.corpus.clip_cut``): longest clip in seconds, sampling rate in frames per second, the
#: colour change (Bhattacharyya distance, 0-1) that makes a scene cut, fewest frames a clip keeps,
#: and frames per processing chunk.
DEFAULT_CLIP_MAX_S = 10.0
DEFAULT_CLIP_FPS = 10.0
DEFAULT_SCENE_CUT = 0.5
DEFAULT_CLIP_MIN_FRAMES = 4
DEFAULT_CLIP_CHUNK_FRAMES = 50

_LAZY = {
    "Sample": "parallax.corpus.sample",
    "write_sample_dir": "parallax.corpus.sample",
    "read_sample_dir": "parallax.corpus.sample",
    "ClipSample": "parallax.corpus.clip_sample",
    "ClipFrame": "parallax.corpus.clip_sample",
    "ClipInfo": "parallax.corpus.clip_sample",
    "write_clip_sample_dir": "parallax.corpus.clip_folder",
    "read_clip_sample_dir": "parallax.corpus.clip_reader",
    "open_clip_sample_dir": "parallax.corpus.clip_reader",
    "Corpus": "parallax.corpus.store",
    "Consent": "parallax.corpus.consent",
    "load_consent": "parallax.corpus.consent",
}

if TYPE_CHECKING:  # pragma: no cover
    from parallax.corpus.clip_folder import write_clip_sample_dir
    from parallax.corpus.clip_reader import open_clip_sample_dir, read_clip_sample_dir
    from parallax.corpus.clip_sample import ClipFrame, ClipInfo, ClipSample
    from parallax.corpus.consent import Consent, load_consent
    from parallax.corpus.sample import Sample, read_sample_dir, write_sample_dir
    from parallax.corpus.store import Corpus


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
