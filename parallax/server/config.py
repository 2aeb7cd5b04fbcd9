"""Settings of the Parallax web server, validated once on construction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from parallax.errors import ParameterError

__all__ = ["ServerConfig"]

MB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """What the web server may accept and where it keeps its files.

    Parameters
    ----------
    data_dir : Path
        Folder holding one sub-folder per capture (``<data_dir>/captures/<id>/``).
        Created if missing. Nothing a user sends becomes a path outside it.
    corpus_dir : Path, optional
        Corpus that opted-in captures are contributed to (``parallax corpus``'s
        folder). ``None`` disables contribution (the page says so).
    max_upload_bytes : int
        Largest request body accepted, in bytes (default 64 MiB); larger bodies are
        answered 413 before or while they arrive.
    max_pixels : int
        Largest image accepted, in pixels (width x height of the stored image,
        before splitting into views; default 64 megapixels). Files whose header
        states more are refused with 413 before any pixel is decoded
        (decompression bombs).
    uploads_per_minute : int
        Per-client (IP address) upload limit in a sliding 60 s window; more are
        answered 429 with ``Retry-After``.
    actions_per_minute : int
        Per-client limit, in a sliding 60 s window, on every other request that
        changes something: delete, contribute, withdraw, the admin endpoints, and a
        download that has to be written first. More are answered 429 with ``Retry-After``.
    expire_after_s : float, optional
        Seconds after its upload when a capture is deleted, with its files and link;
        ``None`` (the default) keeps captures until their owner deletes them. A
        capture contributed to the corpus is kept (its owner can still withdraw it).
    max_store_bytes : int, optional
        Size quota of the captures folder, in bytes; ``None`` means no quota. Before an
        upload is accepted, expired captures and abandoned ones (no record, or an
        upload that never finished) are removed, oldest first, to make room; if the
        store is still full the upload is answered 507. The quota is checked before
        each upload: the files of captures being processed may take the folder a
        little past it.
    admin_token : str, optional
        Secret for the corpus export and admin endpoints (header
        ``Authorization: Bearer <token>``). ``None`` disables those endpoints (403).
    preview_side_px : int
        Longest side, in pixels, of the fast first depth (default 512).
    preview_matcher : str
        Matcher of the first depth (default ``"sgbm"``: OpenCV's semi-global block
        matching, faster than the default matcher).
    refine_matcher : str
        Matcher of the refined depth (default ``"default"``).
    refine_side_px : int, optional
        Longest side of the refined depth computed in the background; ``None`` or 0
        means full resolution. Default 1536 px (2 cores take minutes at 2560 px).
    refine : bool
        Whether to compute the refined depth at all.
    mesh_side_px : int
        Longest side of the depth grid sent to the viewer (vertices of the mesh).
    workers : int
        Worker processes per queue (preview, refine, export, video); default 1 each.
    max_video_upload_bytes : int
        Largest stereo video accepted, in bytes (default 512 MiB). Request bodies to the
        upload route may be this large; a photo larger than ``max_upload_bytes`` is still
        refused (413) once its content shows it is a photo.
    video_max_s : float
        Seconds of a video that are processed (default 20): the first ``video_max_s``
        seconds; the page says when a clip was cut.
    video_max_fps : float
        Highest frame rate processed (default 30): faster clips keep every n-th frame.
    video_first_s : float
        Length of the first segment, in seconds of video (default 1): processed and
        published first (the ``first-seconds`` event), so the 3D player starts at once.
    video_segment_s : float
        Length of each later segment, in seconds of video (default 3).
    video_side_px : int
        Longest side of the working size clips are matched at (default 320 px).
    video_matcher : str
        Matcher of the clip depth (default ``"default"``, with its temporal filter).
    video_view_side_px : int
        Longest side of each view in the video sent to the viewer (default 960 px).
    video_grid_side_px : int
        Longest side of the per-frame depth grid sent to the viewer (default 192).
    """

    data_dir: Path
    corpus_dir: Path | None = None
    max_upload_bytes: int = 64 * MB
    max_pixels: int = 64_000_000
    uploads_per_minute: int = 20
    actions_per_minute: int = 60
    expire_after_s: float | None = None
    max_store_bytes: int | None = None
    admin_token: str | None = None
    preview_side_px: int = 512
    preview_matcher: str = "sgbm"
    refine_matcher: str = "default"
    refine_side_px: int | None = 1536
    refine: bool = True
    mesh_side_px: int = 1024
    workers: int = 1
    max_video_upload_bytes: int = 512 * MB
    video_max_s: float = 20.0
    video_max_fps: float = 30.0
    video_first_s: float = 1.0
    video_segment_s: float = 3.0
    video_side_px: int = 320
    video_matcher: str = "default"
    video_view_side_px: int = 960
    video_grid_side_px: int = 192

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.corpus_dir is not None:
            object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        for name in (
            "max_upload_bytes",
            "max_pixels",
            "uploads_per_minute",
            "actions_per_minute",
            "preview_side_px",
            "mesh_side_px",
            "workers",
            "max_video_upload_bytes",
            "video_side_px",
            "video_view_side_px",
            "video_grid_side_px",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ParameterError(f"server setting {name} must be a positive integer, got {value!r}")
        if self.refine_side_px is not None and (not isinstance(self.refine_side_px, int) or self.refine_side_px < 0):
            raise ParameterError(f"server setting refine_side_px must be None or >= 0, got {self.refine_side_px!r}")
        if self.expire_after_s is not None and (
            isinstance(self.expire_after_s, bool)
            or not isinstance(self.expire_after_s, int | float)
            or not self.expire_after_s > 0
        ):
            raise ParameterError(
                f"server setting expire_after_s must be None (keep captures) or > 0 seconds, got {self.expire_after_s!r}"
            )
        if self.max_store_bytes is not None and (
            not isinstance(self.max_store_bytes, int)
            or isinstance(self.max_store_bytes, bool)
            or self.max_store_bytes < 1
        ):
            raise ParameterError(
                f"server setting max_store_bytes must be None (no quota) or a positive integer, got {self.max_store_bytes!r}"
            )
        for name in ("video_max_s", "video_max_fps", "video_first_s", "video_segment_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
                raise ParameterError(f"server setting {name} must be a positive number, got {value!r}")
        for name, least in (("video_side_px", 32), ("video_view_side_px", 64), ("video_grid_side_px", 16)):
            if getattr(self, name) < least:
                raise ParameterError(f"server setting {name} must be >= {least}, got {getattr(self, name)}")
        if self.preview_side_px < 64:
            raise ParameterError(f"server setting preview_side_px must be >= 64, got {self.preview_side_px}")
        if self.admin_token is not None and len(self.admin_token) < 16:
            raise ParameterError(
                "the admin token must be at least 16 characters; generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )

    @property
    def captures_dir(self) -> Path:
        """``<data_dir>/captures``: one folder per capture id."""
        return self.data_dir / "captures"
