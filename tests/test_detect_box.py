"""The Box value type: geometry helpers the tracker, producer and stego rely on."""

from __future__ import annotations

import numpy as np
import pytest

from forensics_app.core.detect import Box, nms
from forensics_app.errors import InputError


def test_iou_known_values() -> None:
    a = Box(0, 0, 10, 10)
    assert a.iou(a) == 1.0
    assert a.iou(Box(5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert a.iou(Box(10, 0, 10, 10)) == 0.0  # touching edges do not overlap
    assert a.iou(Box(3, 3, 0, 0)) == 0.0


def test_clip_expand_translate() -> None:
    assert Box(-5, -5, 20, 20, 0.7).clip(10, 8) == Box(0, 0, 10, 8, 0.7)
    assert Box(50, 50, 5, 5).clip(10, 10).area == 0
    assert Box(10, 10, 10, 10).expand(2.0) == Box(5, 5, 20, 20)
    head = Box(10, 10, 10, 10).expand(1.5, shift_up=0.1)
    assert (head.w, head.h) == (15, 15) and head.center[1] < 15
    assert Box(10, 10, 10, 10).expand(2.0, factor_y=1.0) == Box(5, 10, 20, 10)
    face = Box(100, 100, 6, 8, 0.4)
    head = face.to_head()
    assert head.w > face.w and head.h > face.h and head.y < face.y and head.score == 0.4
    assert head.contains(*face.center)
    assert Box(1, 2, 3, 4).translate(2.4, -1.6) == Box(3, 0, 3, 4)
    assert Box(1, 2, 3, 4).as_tuple() == (1, 2, 3, 4)
    with pytest.raises(InputError):
        Box(0, 0, 4, 4).expand(0)


def test_validation() -> None:
    assert Box(np.int64(3), 4, 5, 6).x == 3
    with pytest.raises(InputError):
        Box(1.5, 0, 2, 2)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        Box(0, 0, -1, 2)
    with pytest.raises(InputError):
        Box(True, 0, 1, 1)
    with pytest.raises(AttributeError):
        Box(0, 0, 1, 1).x = 3  # type: ignore[misc]


def test_nms_keeps_best_of_overlaps() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.array([0.5, 0.9, 0.4], np.float32), 0.3)
    assert keep.tolist() == [1, 2]
