"""Face detection on de-identified vs raw faces (paper §IV-B).

A surrogate is only useful if a face detector still finds a face in it (so that crowd
analytics keep working on the public video). Each 64×64 head crop is run through CenterFace
(upscaled, face boxes); its confidence is the best box score, 0 when no box passes the
detector's floor. A face counts as detected at the product's operating threshold.
"""

from __future__ import annotations

import numpy as np

from forensics_app.core.detect import DEFAULT_THRESHOLD, CenterFaceDetector
from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.metrics import pearson

SCORE_FLOOR = 0.01  # the detector reports boxes down to this score, so weak faces still count


def make_detector(upscale: float = 2.0) -> CenterFaceDetector:
    """CenterFace for single head crops: low floor so confidences are graded, face boxes."""
    return CenterFaceDetector(upscale=upscale, threshold=SCORE_FLOOR, heads=False)


def detector_confidences(detector: CenterFaceDetector, faces_bgr: np.ndarray) -> np.ndarray:
    """Best face score of each ``N×H×W×3`` uint8 BGR crop (0 where nothing is found)."""
    faces = np.asarray(faces_bgr)
    if faces.ndim != 4 or faces.shape[-1] != 3 or faces.dtype != np.uint8:
        raise InputError(f"faces must be uint8 N×H×W×3, got {faces.dtype} {faces.shape}")
    return np.array(
        [
            max((b.score for b in detector.detect(np.ascontiguousarray(f))), default=0.0)
            for f in faces
        ]
    )


def detection_summary(
    reference: np.ndarray, scores: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, float | None]:
    """Mean confidence, Pearson r with the raw faces' confidences, rate and rate ratio."""
    ref = np.asarray(reference, dtype=np.float64)
    test = np.asarray(scores, dtype=np.float64)
    if ref.shape != test.shape or ref.ndim != 1 or ref.size == 0:
        raise InputError(f"confidence arrays must be 1-D and equal length, got {ref.shape}")
    rate_ref = float((ref >= threshold).mean())
    rate = float((test >= threshold).mean())
    r = pearson(ref, test) if ref.size >= 2 else None
    return {
        "mean_confidence": round(float(test.mean()), 4),
        "pearson_with_x": None if r is None else round(r, 4),
        "detection_rate": round(rate, 4),
        "rate_ratio_to_x": None if rate_ref == 0.0 else round(rate / rate_ref, 4),
        "threshold": threshold,
    }
