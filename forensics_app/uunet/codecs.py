"""Real codec round trips of face stacks: JPEG (OpenCV) and H.264 (libx264 through PyAV).

Shared by the training channel (:mod:`forensics_app.uunet.channel`, straight-through), the
synthetic data import (:mod:`forensics_app.uunet.synthetic`) and the evaluation's channel
conditions (:mod:`forensics_app.uunet.evaluation.transforms`), so all three degrade a face
with the same code. Faces are ``N×H×W×3`` uint8 BGR stacks (the ``core`` convention).
"""

from __future__ import annotations

import io

import cv2
import numpy as np

from forensics_app.errors import InputError
from forensics_app.uunet.faces import check_faces


def jpeg(faces: np.ndarray, quality: int) -> np.ndarray:
    """A real JPEG round trip at ``quality`` (1–100) of every face."""
    faces = check_faces(faces)
    if not 1 <= quality <= 100:
        raise InputError(f"JPEG quality must be 1..100, got {quality}")
    out = np.empty_like(faces)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
    for i, face in enumerate(faces):
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(face), params)
        if not ok:
            raise InputError("JPEG encoding failed")
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def h264(faces: np.ndarray, crf: int, grid: int = 8) -> np.ndarray:
    """A real H.264 round trip (libx264, yuv420p, ``crf``) of the faces tiled into frames.

    ``grid×grid`` faces make one frame, consecutive frames hold consecutive faces, so the
    codec sees a public video of faces (intra and inter prediction, chroma subsampling).
    """
    import av

    faces = check_faces(faces)
    if not 0 <= crf <= 51:
        raise InputError(f"H.264 CRF must be 0..51, got {crf}")
    n, h, w = faces.shape[:3]
    per = grid * grid
    frames = []
    for start in range(0, n, per):
        mosaic = np.zeros((grid * h, grid * w, 3), np.uint8)
        for k, face in enumerate(faces[start : start + per]):
            r, c = divmod(k, grid)
            mosaic[r * h : (r + 1) * h, c * w : (c + 1) * w] = face
        frames.append(mosaic)
    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = grid * w, grid * h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for mosaic in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(mosaic, format="bgr24")))
        out.mux(stream.encode(None))
    buf.seek(0)
    with av.open(buf, "r") as src:
        decoded = [f.to_ndarray(format="bgr24") for f in src.decode(video=0)]
    if len(decoded) != len(frames):
        raise InputError(f"H.264 round trip returned {len(decoded)} of {len(frames)} frames")
    out_faces = np.empty_like(faces)
    for i in range(n):
        frame, k = divmod(i, per)
        r, c = divmod(k, grid)
        out_faces[i] = decoded[frame][r * h : (r + 1) * h, c * w : (c + 1) * w]
    return out_faces
