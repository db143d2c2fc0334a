"""Detection on raw vs transformed faces: confidences and their summary."""

from __future__ import annotations

import numpy as np
import pytest
from test_eval_leakage import astronaut_face

from forensics_app.errors import InputError
from forensics_app.uunet.evaluation.detection import (
    detection_summary,
    detector_confidences,
    make_detector,
)
from forensics_app.uunet.evaluation.transforms import down_up


def test_summary_hand_made() -> None:
    x = np.array([0.9, 0.8, 0.1, 0.7])
    a = np.array([0.85, 0.1, 0.05, 0.6])
    s = detection_summary(x, a, threshold=0.5)
    assert s["detection_rate"] == 0.5
    assert s["rate_ratio_to_x"] == pytest.approx(0.5 / 0.75, abs=1e-4)
    assert s["mean_confidence"] == pytest.approx(0.4)
    assert s["pearson_with_x"] == pytest.approx(np.corrcoef(x, a)[0, 1], abs=1e-4)
    assert detection_summary(x, x, 0.5)["rate_ratio_to_x"] == 1.0
    none = detection_summary(np.zeros(3), np.ones(3), 0.5)
    assert none["rate_ratio_to_x"] is None and none["pearson_with_x"] is None
    with pytest.raises(InputError):
        detection_summary(x, a[:2])


def test_centerface_confidence_real_face_vs_blurred() -> None:
    face = astronaut_face()
    faces = np.stack([face, down_up(face[None], 5, 3)[0], np.full_like(face, 128)])
    conf = detector_confidences(make_detector(), faces)
    assert conf[0] > 0.5  # a clear frontal face
    assert conf[1] < 0.2 and conf[2] < 0.2  # blurred away / no face
    with pytest.raises(InputError):
        detector_confidences(make_detector(), face)
