"""Privacy before storage: blur faces (and licence plates) in both views; keep only camera facts.

Face detection
--------------
The default detector is MTCNN (Zhang et al. 2016) with the ONNX weights that the
``mtcnn-runtime`` package ships inside its wheel (Apache-2.0; nothing is
downloaded at run time), run by onnxruntime. A stronger detector may be plugged
in by local path: an OpenCV cascade (``.xml``) or a YuNet ONNX model (``.onnx``,
run by ``cv2.FaceDetectorYN``).

Licence plates: OpenCV 5 wheels no longer ship the Russian-plate Haar cascades
(nor the cascade classifier itself), and no registry package with a plate
detector was found, so plates are blurred only when a cascade is given by path
(``plate_detector=``) and the installed OpenCV still has ``CascadeClassifier``
(4.x).

Consistency across the views: faces are detected in the left view and found
again in the right view by normalised cross-correlation along the same rows
(the views of a stereo pair differ mainly by a horizontal shift), then faces
detected in the right view are added, and mapped back to the left the same way;
both views get the union. Blurring is heavy (pixelation to about 6 cells across
the face, then a Gaussian blur), and a second detection pass blurs anything
still found.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from parallax.errors import InputFileError, MissingDependencyError, ParameterError

__all__ = [
    "Detector",
    "MtcnnFaceDetector",
    "CascadeDetector",
    "YuNetFaceDetector",
    "load_detector",
    "blur_boxes",
    "match_boxes",
    "merge_boxes",
    "anonymise_pair",
    "PrivacyReport",
    "camera_facts",
    "SENSITIVE_KEY",
]


class Detector(Protocol):
    """Finds objects in an ``HxWx3`` uint8 RGB image; returns ``(N, 4)`` boxes ``x0, y0, x1, y1`` in pixels."""

    name: str

    def detect(self, image: np.ndarray) -> np.ndarray:  # pragma: no cover - protocol
        ...


def _mtcnn_weights() -> Path:
    spec = importlib.util.find_spec("mtcnnruntime")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "face blurring needs the Python package 'mtcnn-runtime' (its wheel ships the MTCNN weights); "
            "install it with: pip install --no-deps 'mtcnn-runtime>=1.0' onnxruntime  (see scripts/setup.sh)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "weights"


class MtcnnFaceDetector:
    """MTCNN face detector with the weights shipped by ``mtcnn-runtime`` (onnxruntime, CPU).

    Parameters
    ----------
    min_face_px : float
        Smallest face side to look for, in pixels of the image given to :meth:`detect`.
    threshold : float
        Score threshold of the last stage (0..1).
    """

    name = "mtcnn (mtcnn-runtime weights, onnxruntime)"

    def __init__(self, *, min_face_px: float = 12.0, threshold: float = 0.7) -> None:
        weights = _mtcnn_weights()
        if not (weights / "pnet.onnx").is_file():
            raise MissingDependencyError(f"the MTCNN weights are missing from {weights}; reinstall 'mtcnn-runtime'")
        try:
            from mtcnnruntime import MTCNN
        except ImportError as exc:
            raise MissingDependencyError.for_extra("onnxruntime", "corpus", "face blurring") from exc
        self._net = MTCNN()
        self._single_threaded(weights)
        self.min_face_px = float(min_face_px)
        self.threshold = float(threshold)

    def _single_threaded(self, weights: Path) -> None:
        """Run the three networks on one thread without spin-waiting.

        The networks are tiny; onnxruntime's default thread pool (one spinning
        thread per core) only adds contention when several captures are processed
        in parallel (Ray workers, two ingests) and makes results depend on timing.
        """
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        for attr, name in (("_MTCNN__pnet", "pnet"), ("_MTCNN__rnet", "rnet"), ("_MTCNN__onet", "onet")):
            slot = getattr(self._net, attr, None)
            if isinstance(slot, list) and slot:
                slot[0] = onnxruntime.InferenceSession(
                    str(weights / f"{name}.onnx"), sess_options=opts, providers=["CPUExecutionProvider"]
                )

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Face boxes ``(N, 4)`` as ``x0, y0, x1, y1`` pixels of ``image`` (RGB)."""
        if min(image.shape[:2]) < 24:
            return np.zeros((0, 4))
        try:
            boxes, _ = self._net.detect(
                np.ascontiguousarray(image[:, :, ::-1]),
                min_face_size=self.min_face_px,
                thresholds=[0.6, 0.7, self.threshold],
            )
        except ValueError as exc:  # mtcnn-runtime stacks an empty list when no scale yields a candidate
            if "concatenate" not in str(exc):
                raise
            return np.zeros((0, 4))
        boxes = np.asarray(boxes, dtype=np.float64)
        return boxes[:, :4] if boxes.size else np.zeros((0, 4))


class CascadeDetector:
    """An OpenCV cascade classifier (Haar/LBP ``.xml``) loaded from a local path."""

    def __init__(self, path: str | os.PathLike[str], *, min_size_px: int = 16) -> None:
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"detector file {path} does not exist; give the path of an OpenCV cascade .xml")
        if not hasattr(cv2, "CascadeClassifier"):
            raise ParameterError(
                f"cannot load {path}: this OpenCV ({cv2.__version__}) has no cascade classifier (OpenCV 5 removed it); "
                "use a YuNet .onnx face detector, or OpenCV 4.x for cascades"
            )
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise InputFileError(f"{path} is not an OpenCV cascade classifier; give a Haar or LBP cascade .xml")
        self.name = f"opencv cascade {path.name}"
        self.min_size_px = int(min_size_px)

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Boxes ``(N, 4)`` as ``x0, y0, x1, y1`` pixels."""
        grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        found = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(self.min_size_px,) * 2)
        found = np.asarray(found, dtype=np.float64).reshape(-1, 4)
        return np.column_stack([found[:, 0], found[:, 1], found[:, 0] + found[:, 2], found[:, 1] + found[:, 3]])


class YuNetFaceDetector:
    """A YuNet face detector (ONNX, OpenCV Zoo) loaded from a local path and run by ``cv2.FaceDetectorYN``."""

    def __init__(self, path: str | os.PathLike[str], *, threshold: float = 0.6) -> None:
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"detector file {path} does not exist; give the path of a YuNet .onnx model")
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), threshold, 0.3, 5000)
        except cv2.error as exc:
            raise InputFileError(
                f"{path} could not be loaded as a YuNet face detector ({exc.err}); give a YuNet .onnx"
            ) from exc
        self.name = f"yunet {path.name}"

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Face boxes ``(N, 4)`` as ``x0, y0, x1, y1`` pixels."""
        h, w = image.shape[:2]
        self._net.setInputSize((w, h))
        _, faces = self._net.detect(np.ascontiguousarray(image[:, :, ::-1]))
        if faces is None:
            return np.zeros((0, 4))
        f = np.asarray(faces, dtype=np.float64)
        return np.column_stack([f[:, 0], f[:, 1], f[:, 0] + f[:, 2], f[:, 1] + f[:, 3]])


def load_detector(spec: str | os.PathLike[str] | None, *, kind: str = "face") -> Detector:
    """The detector ``spec`` names: ``None``/``"mtcnn"`` (default faces), or a local ``.xml``/``.onnx`` path.

    Raises
    ------
    ParameterError
        If the path has another extension.
    InputFileError
        If the file is missing or not a detector.
    MissingDependencyError
        If the default detector's package is not installed.
    """
    if spec is None or str(spec) == "mtcnn":
        if kind != "face":
            raise ParameterError(f"no built-in {kind} detector; give an OpenCV cascade .xml path")
        return MtcnnFaceDetector()
    suffix = Path(spec).suffix.lower()
    if suffix == ".xml":
        return CascadeDetector(spec)
    if suffix == ".onnx" and kind == "face":
        return YuNetFaceDetector(spec)
    raise ParameterError(f"{kind} detector {str(spec)!r}: use 'mtcnn', an OpenCV cascade .xml or a YuNet .onnx path")


def _expand(box: np.ndarray, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * scale / 2, (y1 - y0) * scale / 2
    return (
        max(0, int(np.floor(cx - hw))),
        max(0, int(np.floor(cy - hh))),
        min(width, int(np.ceil(cx + hw))),
        min(height, int(np.ceil(cy + hh))),
    )


def blur_boxes(image: np.ndarray, boxes: np.ndarray, *, grow: float = 1.35, cells: int = 6) -> np.ndarray:
    """Return a copy of ``image`` with each box (grown by ``grow``) pixelated and Gaussian-blurred.

    Pixelation to ``cells`` blocks across the box's short side removes the detail
    a face is recognised by; the blur hides the block edges.
    """
    out = np.array(image, copy=True)
    h, w = out.shape[:2]
    for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        x0, y0, x1, y1 = _expand(box, grow, w, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        patch = out[y0:y1, x0:x1]
        ph, pw = patch.shape[:2]
        step = max(1.0, min(ph, pw) / cells)
        small = cv2.resize(patch, (max(1, round(pw / step)), max(1, round(ph / step))), interpolation=cv2.INTER_AREA)
        block = cv2.resize(small, (pw, ph), interpolation=cv2.INTER_NEAREST)
        sigma = max(1.0, step / 2)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(block, (0, 0), sigmaX=sigma)
    return out


def match_boxes(src: np.ndarray, dst: np.ndarray, boxes: np.ndarray, *, min_score: float = 0.4) -> np.ndarray:
    """Find each box of view ``src`` in view ``dst`` along (nearly) the same rows.

    Normalised cross-correlation of the grey box (grown by 20 %) over a band of
    ``dst`` that extends 15 % of the box height (plus 8 px) above and below;
    boxes whose best score is below ``min_score`` are dropped. Returns ``(M, 4)``.
    """
    g_src = cv2.cvtColor(src, cv2.COLOR_RGB2GRAY)
    g_dst = cv2.cvtColor(dst, cv2.COLOR_RGB2GRAY)
    h, w = g_src.shape
    found = []
    for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        x0, y0, x1, y1 = _expand(box, 1.2, w, h)
        tpl = g_src[y0:y1, x0:x1]
        if tpl.shape[0] < 4 or tpl.shape[1] < 4:
            continue
        pad = int(0.15 * (y1 - y0)) + 8
        b0, b1 = max(0, y0 - pad), min(h, y1 + pad)
        band = g_dst[b0:b1]
        if band.shape[0] < tpl.shape[0] or band.shape[1] < tpl.shape[1]:
            continue
        score = cv2.matchTemplate(band, tpl, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(score)
        if best >= min_score:
            dx, dy = bx - x0, (b0 + by) - y0
            found.append([box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy])
    return np.asarray(found, dtype=np.float64).reshape(-1, 4)


@dataclass(frozen=True, kw_only=True)
class PrivacyReport:
    """What :func:`anonymise_pair` did (JSON-ready via :meth:`to_dict`)."""

    detector: str
    plate_detector: str | None
    faces_left: int
    faces_right: int
    plates: int
    boxes_left: tuple[tuple[float, float, float, float], ...]
    boxes_right: tuple[tuple[float, float, float, float], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (box coordinates rounded to pixels; no image content)."""
        return {
            "face_detector": self.detector,
            "plate_detector": self.plate_detector
            or "none available (no registry package ships one; give --plate-detector PATH)",
            "faces_blurred_left": self.faces_left,
            "faces_blurred_right": self.faces_right,
            "plates_blurred": self.plates,
            "blurred_boxes_left": [[round(v) for v in b] for b in self.boxes_left],
            "blurred_boxes_right": [[round(v) for v in b] for b in self.boxes_right],
            "method": "pixelate (~6 cells across) + Gaussian blur, box grown 35 %; same faces in both views",
        }


def _as_box(box: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return x0, y0, x1, y1


def _union(*arrays: np.ndarray) -> np.ndarray:
    parts = [np.asarray(a, dtype=np.float64).reshape(-1, 4) for a in arrays]
    return np.concatenate(parts, axis=0) if parts else np.zeros((0, 4))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area > 0 else 0.0


def merge_boxes(boxes: np.ndarray, *, iou: float = 0.3) -> np.ndarray:
    """Merge boxes that overlap (IoU above ``iou``) into their union box; one box per object."""
    out: list[np.ndarray] = []
    for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        for i, kept in enumerate(out):
            if _iou(box, kept) > iou:
                out[i] = np.array(
                    [min(box[0], kept[0]), min(box[1], kept[1]), max(box[2], kept[2]), max(box[3], kept[3])]
                )
                break
        else:
            out.append(box)
    return np.asarray(out, dtype=np.float64).reshape(-1, 4)


def anonymise_pair(
    left: np.ndarray, right: np.ndarray, detector: Detector, *, plate_detector: Detector | None = None, passes: int = 2
) -> tuple[np.ndarray, np.ndarray, PrivacyReport]:
    """Blur every face (and plate) in both views of a stereo pair, consistently.

    Parameters
    ----------
    left, right : numpy.ndarray
        ``HxWx3`` uint8 RGB views (same size).
    detector : Detector
        Face detector.
    plate_detector : Detector, optional
        Licence-plate detector.
    passes : int
        Detection passes; each later pass blurs anything the detector still finds.

    Returns
    -------
    left, right : numpy.ndarray
        Blurred copies.
    report : PrivacyReport
    """
    if left.shape != right.shape:
        raise ParameterError(f"anonymise_pair: views differ in size {left.shape} vs {right.shape}")
    all_l, all_r = np.zeros((0, 4)), np.zeros((0, 4))
    plates = 0
    out_l, out_r = left, right
    for _ in range(max(1, passes)):
        det_l, det_r = detector.detect(out_l), detector.detect(out_r)
        if plate_detector is not None:
            pl, pr = plate_detector.detect(out_l), plate_detector.detect(out_r)
            plates += len(pl) + len(pr)
            det_l, det_r = _union(det_l, pl), _union(det_r, pr)
        if len(det_l) == 0 and len(det_r) == 0:
            break
        boxes_l = merge_boxes(_union(det_l, match_boxes(out_r, out_l, det_r)))
        boxes_r = merge_boxes(_union(det_r, match_boxes(out_l, out_r, det_l)))
        out_l, out_r = blur_boxes(out_l, boxes_l), blur_boxes(out_r, boxes_r)
        all_l, all_r = merge_boxes(_union(all_l, boxes_l)), merge_boxes(_union(all_r, boxes_r))
    report = PrivacyReport(
        detector=detector.name,
        plate_detector=getattr(plate_detector, "name", None),
        faces_left=len(all_l),
        faces_right=len(all_r),
        plates=plates,
        boxes_left=tuple(_as_box(b) for b in all_l),
        boxes_right=tuple(_as_box(b) for b in all_r),
    )
    return out_l, out_r, report


#: Metadata keys never stored (GPS, serial numbers, owners, free text, XMP, maker notes).
SENSITIVE_KEY = re.compile(
    r"gps|serial|owner|artist|author|copyright|comment|description|xpcomment|xpauthor|xpsubject|xpkeywords|"
    r"xptitle|makernote|xmp|cameraownername|imageuniqueid|hostcomputer|geolocation|latitude|longitude|altitude|"
    r"bodyserial|lensserial|internalserial",
    re.IGNORECASE,
)

#: The camera facts kept in ``meta.json`` (everything else from the file's metadata is dropped).
_KEEP = ("make", "model", "lens_model", "focal_length_mm", "focal_length_35mm", "baseline_m", "convergence_deg")


def camera_facts(capture_dict: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Split a ``Capture.to_dict()`` into the camera facts 3D needs and the names of dropped sensitive keys.

    Returns
    -------
    facts : dict
        ``make``, ``model``, ``baseline_m``, ``convergence_deg`` and, where the
        file's EXIF gives them, ``lens_model``, ``focal_length_mm``, ``focal_length_35mm``.
    dropped : list of str
        Names (not values) of sensitive metadata keys that were found and not stored.
    """
    cam = capture_dict.get("camera", {}) or {}
    facts: dict[str, Any] = {
        k: cam.get(k) for k in ("make", "model", "baseline_m", "convergence_deg") if cam.get(k) is not None
    }
    dropped: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                key_s = str(key)
                if SENSITIVE_KEY.search(key_s):
                    dropped.add(key_s)
                    continue
                if (
                    key_s in _KEEP
                    and key_s not in facts
                    and isinstance(value, (int, float, str))
                    and not isinstance(value, bool)
                ):
                    if not (isinstance(value, str) and SENSITIVE_KEY.search(value)):
                        facts[key_s] = value
                walk(value, f"{path}.{key_s}")
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item, path)

    walk(capture_dict.get("metadata", {}) or {}, "metadata")
    for key in ("make", "model", "lens_model"):
        if isinstance(facts.get(key), str):
            facts[key] = facts[key][:80]
    return facts, sorted(dropped)
