"""Tracker: stable ids, bridged misses, new subjects, dropping, detect-every-k on video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from forensics_app.core.detect import Box, default_detector
from forensics_app.core.track import TrackedBox, Tracker, detect_and_track
from forensics_app.errors import InputError


def _walker(t: int, x0: int, y0: int, vx: int, vy: int, size: int = 16) -> Box:
    return Box(x0 + vx * t, y0 + vy * t, size, size)


def test_ids_stay_stable_for_moving_boxes() -> None:
    tracker = Tracker()
    ids = []
    for t in range(20):
        boxes = [_walker(t, 10, 10, 4, 0), _walker(t, 300, 200, -3, 2)]
        out = tracker.update(boxes[::-1] if t % 2 else boxes)  # order must not matter
        assert all(tb.detected for tb in out) and all(tb.frame_index == t for tb in out)
        ids.append({tb.box.x // 100: tb.track_id for tb in out})
    first = {tb.track_id for tb in tracker.update([_walker(20, 10, 10, 4, 0)])}
    assert len({tuple(sorted(d.values())) for d in ids}) == 1
    assert first <= {1, 2}


def test_fast_motion_is_followed_by_velocity() -> None:
    """Moving more than a box width per frame: IoU is 0, the prediction must carry it."""
    tracker = Tracker(max_distance=1.0)
    for x in (0, 10, 26, 42, 58, 74, 90, 106):  # 16 px steps for a 12 px box: ratio 1.33
        out = tracker.update([Box(x, 50, 12, 12)])
        assert [tb.track_id for tb in out] == [1]
    # without the prediction the same jump is a different subject
    still = Tracker(max_distance=1.0, min_hits=1)
    still.update([Box(0, 50, 12, 12)])
    out = still.update([Box(16, 50, 12, 12)])
    assert [(tb.track_id, tb.detected) for tb in out] == [(1, False), (2, True)]


def test_bridges_a_two_frame_miss_with_prediction() -> None:
    tracker = Tracker(max_missed=3)
    for t in range(5):
        tracker.update([_walker(t, 100, 100, 5, 0)])
    gap = [tracker.update([]) for _ in (5, 6)]
    for t, out in zip((5, 6), gap, strict=True):
        assert len(out) == 1 and out[0].track_id == 1 and not out[0].detected
        assert abs(out[0].box.x - _walker(t, 100, 100, 5, 0).x) <= 1  # constant velocity
    assert [out[0].missed for out in gap] == [1, 2]
    assert tracker.predict()[0].missed == 2  # frames between runs keep the count
    back = tracker.update([_walker(8, 100, 100, 5, 0)])
    assert [(tb.track_id, tb.detected, tb.missed) for tb in back] == [(1, True, 0)]
    assert tracker.predict()[0].missed == 0


def test_new_object_gets_a_new_id() -> None:
    tracker = Tracker()
    for t in range(3):
        tracker.update([_walker(t, 100, 100, 2, 0)])
    out = tracker.update([_walker(3, 100, 100, 2, 0), Box(400, 300, 16, 16)])
    assert sorted(tb.track_id for tb in out) == [1, 2]
    assert {tb.track_id: tb.box.x for tb in out}[2] == 400


def test_drops_after_max_missed_and_never_reuses_ids() -> None:
    tracker = Tracker(max_missed=2)
    tracker.update([Box(50, 50, 16, 16)])
    tracker.update([Box(51, 50, 16, 16)])
    assert len(tracker.update([])) == 1
    assert len(tracker.update([])) == 1
    assert tracker.update([]) == []
    out = tracker.update([Box(50, 50, 16, 16)])
    assert [tb.track_id for tb in out] == [2]


def test_one_off_detections_do_not_linger() -> None:
    tracker = Tracker(max_missed=5, min_hits=2)
    for t in range(3):
        tracker.update([_walker(t, 100, 100, 2, 0)] + ([Box(400, 50, 10, 10)] if t == 1 else []))
    out = tracker.update([_walker(3, 100, 100, 2, 0)])
    assert [tb.track_id for tb in out] == [1]  # the one-off box (id 2) is gone
    lenient = Tracker(max_missed=5)  # min_hits=1 by default
    lenient.update([Box(400, 50, 10, 10)])
    assert [(tb.track_id, tb.detected) for tb in lenient.update([])] == [(1, False)]
    with pytest.raises(InputError):
        Tracker(min_hits=0)


def test_predicted_boxes_leaving_the_frame_are_dropped() -> None:
    tracker = Tracker(max_missed=10, frame_size=(100, 100))
    for t in range(3):
        tracker.update([_walker(t, 60, 40, 10, 0)])
    seen = [len(tracker.update([])) for _ in range(6)]
    assert seen[0] == 1 and seen[-1] == 0


def test_frame_order_and_settings_are_checked() -> None:
    tracker = Tracker()
    tracker.update([], frame_index=5)
    with pytest.raises(InputError):
        tracker.update([], frame_index=5)
    with pytest.raises(InputError):
        Tracker(iou_threshold=2.0)
    with pytest.raises(InputError):
        Tracker(max_missed=-1)


class _ScriptedDetector:
    """A real detector's output recorded once, replayed per frame (keeps the test fast)."""

    def __init__(self, boxes: list[list[Box]]) -> None:
        self.boxes = boxes
        self.calls = 0

    def detect(self, bgr: np.ndarray) -> list[Box]:
        self.calls += 1
        return self.boxes.pop(0)


def _synthetic_frames(n: int) -> tuple[list[np.ndarray], list[list[Box]]]:
    """A textured square moving 3 px/frame over a noise background."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    patch = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    frames, truth = [], []
    for t in range(n):
        img = cv2.GaussianBlur(background, (5, 5), 0)
        x, y = 20 + 3 * t, 40 + t
        img[y : y + 16, x : x + 16] = patch
        frames.append(img)
        truth.append([Box(x, y, 16, 16)])
    return frames, truth


@pytest.mark.parametrize("propagate", ["flow", "velocity"])
def test_detect_every_k_propagates_between_detections(propagate: str) -> None:
    frames, truth = _synthetic_frames(12)
    detector = _ScriptedDetector([truth[i] for i in range(0, 12, 3)])
    results = list(detect_and_track(frames, detector, every_k=3, propagate=propagate))
    assert detector.calls == 4
    for i, (frame, out) in enumerate(results):
        assert frame is frames[i]
        assert [tb.track_id for tb in out] == [1]
        assert out[0].detected == (i % 3 == 0)
        if i >= 3:  # after one velocity estimate (or from the start with flow)
            assert out[0].box.iou(truth[i][0]) > 0.6, (i, out[0].box, truth[i][0])


def test_detect_and_track_on_the_sample(sample_video: Path) -> None:
    cap = cv2.VideoCapture(str(sample_video))
    frames = [cap.read()[1] for _ in range(6)]
    cap.release()
    results = list(detect_and_track(frames, default_detector(upscale=2.0), every_k=3))
    assert len(results) == 6
    first_ids = {tb.track_id for tb in results[0][1]}
    assert first_ids and all(tb.detected for tb in results[0][1])
    assert {tb.track_id for tb in results[1][1]} == first_ids  # propagated, same subjects
    assert all(isinstance(tb, TrackedBox) for _, out in results for tb in out)
    with pytest.raises(InputError):
        next(detect_and_track(frames, default_detector(), every_k=0))
