"""Tracking of detected heads across frames: stable ids, bridged misses, cheap propagation.

A track id is what keeps one subject on one surrogate face (the U_e noise is seeded per
track), so ids must survive short detector misses. Matching is IoU plus centre distance
against each track's constant-velocity prediction, solved with the Hungarian method (scipy)
or greedily when scipy is missing. Between detections (``every_k`` > 1) boxes are carried
by sparse optical flow (Lucas–Kanade), falling back to the velocity prediction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from forensics_app.core.detect import Box, FaceDetector, as_bgr
from forensics_app.errors import InputError

Propagation = Literal["flow", "velocity"]


@dataclass(frozen=True)
class TrackedBox:
    """One subject's box in one frame; ``detected`` is False when the box was predicted.

    ``missed`` counts the detector runs since the track was last matched: 0 while the last
    run found it (also on the frames in between, where ``detected`` is False), 1 or more
    while it coasts on its velocity.
    """

    track_id: int
    box: Box
    frame_index: int
    detected: bool
    missed: int = 0


@dataclass
class _Track:
    track_id: int
    box: Box
    cx: float
    cy: float
    vx: float = 0.0
    vy: float = 0.0
    last_frame: int = 0
    missed: int = 0
    hits: int = 1
    seen_x: float = 0.0  # centre and frame of the last detection, for the velocity estimate
    seen_y: float = 0.0
    seen_frame: int = 0

    def predicted(self, frame_index: int) -> tuple[float, float]:
        dt = frame_index - self.last_frame
        return self.cx + self.vx * dt, self.cy + self.vy * dt

    def box_at(self, frame_index: int) -> Box:
        px, py = self.predicted(frame_index)
        return Box.from_xyxy(
            px - self.box.w / 2,
            py - self.box.h / 2,
            px + self.box.w / 2,
            py + self.box.h / 2,
            self.box.score,
        )


def _assign(cost: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost pairs among allowed (row, col); Hungarian if scipy is there."""
    if cost.size == 0:
        return []
    big = 1e6
    masked = np.where(allowed, cost, big)
    try:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(masked)
        pairs = zip(rows.tolist(), cols.tolist(), strict=True)
        return [(r, c) for r, c in pairs if allowed[r, c]]
    except ImportError:  # pragma: no cover - scipy ships with scikit-image
        greedy: list[tuple[int, int]] = []
        used_r: set[int] = set()
        used_c: set[int] = set()
        for flat in np.argsort(masked, axis=None):
            r, c = divmod(int(flat), cost.shape[1])
            if allowed[r, c] and r not in used_r and c not in used_c:
                greedy.append((r, c))
                used_r.add(r)
                used_c.add(c)
        return greedy


class Tracker:
    """Associates per-frame boxes into tracks with stable integer ids (1, 2, ...).

    A detection joins a track when IoU with the track's predicted box is at least
    ``iou_threshold`` or its centre lies within ``max_distance`` × the track's box size of the
    predicted centre. A track without a match keeps moving at its velocity for up to
    ``max_missed`` detector runs (reported with ``detected=False``), then is dropped; frames
    between detector runs (:meth:`predict`, :meth:`shift`) do not count as misses. A track
    detected fewer than ``min_hits`` times is dropped at its first miss, so a one-off false
    detection does not linger as a coasting box. The default (1) keeps every track: on the
    labelled sample ``min_hits=2`` cost 0–6 points of recall for 3–6 of precision, and for
    de-identification a missed head matters more than a spare box (docs/RESULTS.md).
    """

    def __init__(
        self,
        iou_threshold: float = 0.2,
        max_missed: int = 5,
        max_distance: float = 1.0,
        velocity_smoothing: float = 0.5,
        frame_size: tuple[int, int] | None = None,
        min_hits: int = 1,
    ) -> None:
        if not 0.0 <= iou_threshold <= 1.0:
            raise InputError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
        if max_missed < 0:
            raise InputError(f"max_missed must not be negative, got {max_missed}")
        self.iou_threshold = iou_threshold
        if min_hits < 1:
            raise InputError(f"min_hits must be at least 1, got {min_hits}")
        self.max_missed = max_missed
        self.min_hits = min_hits
        self.max_distance = max_distance
        self.alpha = velocity_smoothing
        self.frame_size = frame_size
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frame = -1

    @property
    def frame_index(self) -> int:
        """Index of the last frame given to :meth:`update` or :meth:`predict` (−1 before)."""
        return self._frame

    def _next_frame(self, frame_index: int | None) -> int:
        index = self._frame + 1 if frame_index is None else int(frame_index)
        if index <= self._frame:
            raise InputError(f"frame {index} is not after frame {self._frame}")
        self._frame = index
        return index

    def _visible(self, box: Box) -> Box | None:
        if self.frame_size is None:
            return box
        clipped = box.clip(*self.frame_size)
        return clipped if clipped.w > 0 and clipped.h > 0 else None

    def update(self, boxes: Sequence[Box], frame_index: int | None = None) -> list[TrackedBox]:
        """Feed one frame's detections; returns every live track's box in that frame."""
        index = self._next_frame(frame_index)
        tracks = self._tracks
        predicted = [t.box_at(index) for t in tracks]
        cost = np.zeros((len(tracks), len(boxes)))
        allowed = np.zeros((len(tracks), len(boxes)), dtype=bool)
        for r, (track, pbox) in enumerate(zip(tracks, predicted, strict=True)):
            px, py = pbox.center
            size = max(track.box.w, track.box.h, 1)
            for c, det in enumerate(boxes):
                iou = pbox.iou(det)
                dx, dy = det.center
                dist = float(np.hypot(dx - px, dy - py)) / size
                allowed[r, c] = iou >= self.iou_threshold or dist <= self.max_distance
                cost[r, c] = (1.0 - iou) + dist
        matched_t: set[int] = set()
        matched_d: set[int] = set()
        out: list[TrackedBox] = []
        for r, c in _assign(cost, allowed):
            track, det = tracks[r], boxes[c]
            cx, cy = det.center
            dt = max(index - track.seen_frame, 1)
            a = self.alpha if track.hits > 1 else 1.0
            track.vx = (1 - a) * track.vx + a * (cx - track.seen_x) / dt
            track.vy = (1 - a) * track.vy + a * (cy - track.seen_y) / dt
            track.box, track.cx, track.cy = det, cx, cy
            track.seen_x, track.seen_y, track.seen_frame = cx, cy, index
            track.last_frame, track.missed, track.hits = index, 0, track.hits + 1
            matched_t.add(r)
            matched_d.add(c)
            out.append(TrackedBox(track.track_id, det, index, True))
        survivors = []
        for r, track in enumerate(tracks):
            if r in matched_t:
                survivors.append(track)
                continue
            track.missed += 1
            shown = self._visible(predicted[r])
            keep = track.missed <= self.max_missed and track.hits >= self.min_hits
            if keep and shown is not None:
                survivors.append(track)
                out.append(TrackedBox(track.track_id, shown, index, False, track.missed))
        for c, det in enumerate(boxes):
            if c not in matched_d:
                cx, cy = det.center
                track = _Track(self._next_id, det, cx, cy, last_frame=index)
                track.seen_x, track.seen_y, track.seen_frame = cx, cy, index
                self._next_id += 1
                survivors.append(track)
                out.append(TrackedBox(track.track_id, det, index, True))
        self._tracks = survivors
        return sorted(out, key=lambda t: t.track_id)

    def predict(self, frame_index: int | None = None) -> list[TrackedBox]:
        """A frame without detection: every track moves at its velocity; nobody is dropped."""
        index = self._next_frame(frame_index)
        out = []
        for track in self._tracks:
            shown = self._visible(track.box_at(index))
            if shown is not None:
                out.append(TrackedBox(track.track_id, shown, index, False, track.missed))
        return out

    def shift(
        self, moves: dict[int, tuple[float, float]], frame_index: int | None = None
    ) -> list[TrackedBox]:
        """A frame without detection where tracks moved by measured displacements (flow).

        Tracks without a measurement move at their velocity. The moved position becomes the
        track's anchor, so the next detection is matched against where the subject really
        went rather than against a stale prediction. Returns the boxes in this frame.
        """
        index = self._next_frame(frame_index)
        out = []
        for track in self._tracks:
            if track.track_id in moves:
                dx, dy = moves[track.track_id]
                track.cx, track.cy = track.cx + dx, track.cy + dy
            else:
                track.cx, track.cy = track.predicted(index)
            track.last_frame = index
            track.box = track.box_at(index)
            shown = self._visible(track.box)
            if shown is not None:
                out.append(TrackedBox(track.track_id, shown, index, False, track.missed))
        return out


def _flow_moves(
    prev_grey: np.ndarray, grey: np.ndarray, boxes: Sequence[TrackedBox]
) -> dict[int, tuple[float, float]]:
    """Median Lucas–Kanade displacement of a grid of points inside each box."""
    points, owners = [], []
    for tb in boxes:
        b = tb.box
        for fy in (0.25, 0.5, 0.75):
            for fx in (0.25, 0.5, 0.75):
                points.append((b.x + fx * b.w, b.y + fy * b.h))
                owners.append(tb.track_id)
    if not points:
        return {}
    p0 = np.asarray(points, np.float32).reshape(-1, 1, 2)
    p1, status, _ = cv2.calcOpticalFlowPyrLK(
        prev_grey, grey, p0, None, winSize=(15, 15), maxLevel=2
    )
    moves: dict[int, list[tuple[float, float]]] = {}
    for owner, a, b, ok in zip(owners, p0[:, 0], p1[:, 0], status[:, 0], strict=True):
        if ok:
            moves.setdefault(owner, []).append((float(b[0] - a[0]), float(b[1] - a[1])))
    return {
        tid: (float(np.median([m[0] for m in ms])), float(np.median([m[1] for m in ms])))
        for tid, ms in moves.items()
        if len(ms) >= 3
    }


def detect_and_track(
    frames: Iterable[Any],
    detector: FaceDetector,
    every_k: int = 1,
    tracker: Tracker | None = None,
    propagate: Propagation = "flow",
) -> Iterator[tuple[Any, list[TrackedBox]]]:
    """Yield ``(frame, tracked boxes)`` for each frame, running the detector every ``every_k``.

    ``frames`` are BGR arrays or objects with an ``image`` attribute (``core.video.Frame``);
    each is yielded back unchanged. On frames without detection the boxes are propagated by
    optical flow (``propagate="flow"``) or by constant velocity (``"velocity"``); on the
    labelled sample only flow holds the boxes on their heads at k >= 3 (docs/RESULTS.md).
    A detector with an ``observe(image)`` method (a background model) sees every frame; one
    with ``settle(image, boxes, moves)`` may correct the flow's moves of the boxes between
    runs (the head refiner puts each carried box back on its head).
    """
    if every_k < 1:
        raise InputError(f"every_k must be at least 1, got {every_k}")
    if propagate not in ("flow", "velocity"):
        raise InputError(f"unknown propagation {propagate!r}")
    observe = getattr(detector, "observe", None)
    settle = getattr(detector, "settle", None)
    prev_grey: np.ndarray | None = None
    last: list[TrackedBox] = []
    for i, frame in enumerate(frames):
        image = as_bgr(getattr(frame, "image", frame))
        index = int(getattr(frame, "index", i))
        if tracker is None:
            tracker = Tracker(frame_size=(image.shape[1], image.shape[0]))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if propagate == "flow" else None
        if observe is not None:
            observe(image)
        if i % every_k == 0:
            last = tracker.update(detector.detect(image), index)
        elif grey is not None and prev_grey is not None and prev_grey.shape == grey.shape:
            moves = _flow_moves(prev_grey, grey, last)
            if settle is not None:
                moves = settle(image, last, moves)
            last = tracker.shift(moves, index)
        else:
            last = tracker.predict(index)
        prev_grey = grey
        yield frame, last
