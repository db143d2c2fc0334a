"""Head detection that does not need a face: people, their silhouettes, and scenery memory.

A face detector misses every head seen from behind, and a missed head goes out in the
public stream as it was filmed. :class:`HeadDetector` finds *people* instead
(:class:`~forensics_app.core.people.PersonDetector`, one run on the whole frame in its own
proportions; overlapping tiles remain an option) and places a head in each person
box: its size from the box's height, its position from the top of the moving silhouette
inside the box (:class:`~forensics_app.core.foreground.ForegroundModel`) when the camera
sees the person move, from the box alone when it does not. A small learned network
(:class:`~forensics_app.core.head_refine.HeadRefiner`) then moves each placed box onto the
head it sees in a window around it, at every detector run and, between runs, after the
optical flow has carried the box (:meth:`HeadDetector.settle`): on 10 px heads placement
and flow are often a third of a head off.

Scores say how sure a head is, and the producer acts on them (privacy before
reversibility): a confident head is replaced by its reversible surrogate, an unsure one is
pixelated for good. A box that comes back at the same place run after run, never moves and
never scores high is scenery (a bollard, a rock): it gets no surrogate and no place in the
ROI message, but it is still pixelated, because a person who has stood half hidden behind a
sign since the first frame looks exactly like that to a motion model. A person who stands
still and is seen clearly scores high, or moved when they arrived, and stays a head.

Implements the :class:`~forensics_app.core.detect.FaceDetector` protocol (``detect``) plus
``observe``, which :func:`~forensics_app.core.track.detect_and_track` calls on every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from forensics_app.core.detect import Box, as_bgr, nms
from forensics_app.core.foreground import ForegroundModel
from forensics_app.core.head_refine import HeadRefiner
from forensics_app.core.people import PersonDetector
from forensics_app.core.track import TrackedBox
from forensics_app.errors import InputError


@dataclass(frozen=True)
class HeadGeometry:
    """Where a head sits in its person box, as fractions of the box.

    Medians over the labelled heads of the sample clip that lie in a person box
    (benchmarks/labels/vtest_cut_heads.json; ``benchmarks/bench_heads.py`` measures
    them): the head is about 0.16 of a person's height tall and 0.13 of it wide, its top
    at the box's top edge.
    """

    height: float = 0.156
    width: float = 0.131
    top: float = 0.013
    shift_x: float = 0.012
    #: How far above the box's own head guess (in head heights) a silhouette top may be.
    rise: float = 0.1

    def head_of(self, person: Box) -> Box:
        """The head box a person box implies on its own (no silhouette)."""
        hh, hw = self.height * person.h, self.width * person.h
        cx = person.center[0] + self.shift_x * person.w
        y = person.y + self.top * person.h
        return Box.from_xyxy(cx - hw / 2, y, cx + hw / 2, y + hh, person.score)


#: Person score at which a box counts at all (its head is pixelated below ZONE_UNSURE_BELOW).
#: Chosen on the 246 training-label heads (vtest_cut_heads_train.json), not the scored ones:
#: 0.25 found 0.927 of them, 0.3 0.915, 0.2 0.943 at 10 % more producer time (RESULTS, Heads).
PERSON_THRESHOLD = 0.25
#: A person box below this score, or placed without a silhouette, has its head zone pixelated.
ZONE_UNSURE_BELOW = 0.4


def head_zone(person: Box) -> Box:
    """Where the head of a person box can be when the box itself is unsure: its upper
    third, widened by a quarter of its width on each side (a half-hidden person's box is
    often narrow and beside their head)."""
    return Box.from_xyxy(
        person.x - 0.25 * person.w,
        person.y - 0.1 * person.h,
        person.x2 + 0.25 * person.w,
        person.y + 0.3 * person.h,
        0.0,
    )


#: The score of a head at a place judged scenery: below any carry threshold (pixelated).
SCENERY_SCORE = 0.0
#: A head of a weak person box (score below ZONE_UNSURE_BELOW) that the refiner is at least
#: this sure of is raised to ZONE_UNSURE_BELOW, the producer's default carry score: a person
#: half hidden behind a sign gets a weak person box, but their head is plainly a head.
CONFIRM_HEAD = 0.9
#: A head placed from the person box alone is less sure than one on a silhouette.
GEOMETRY_ONLY_FACTOR = 0.85


def silhouette_head(person: Box, mask: np.ndarray, geometry: HeadGeometry) -> Box | None:
    """The head on top of the moving silhouette inside a person box, or None.

    The silhouette is the foreground component that fills most of the box's torso rows
    (so a neighbour or a flickering ribbon beside the person is not taken); the head's top
    is its highest point within ±0.3 box widths of where the box alone puts the head, and
    its centre the middle of the silhouette's pixels in the head's rows.
    """
    guess = geometry.head_of(person)
    height, width = mask.shape[:2]
    hh, hw = guess.h, guess.w
    x1, x2 = max(0, int(person.x - 0.1 * person.w)), min(width, int(person.x2 + 0.1 * person.w))
    y1, y2 = max(0, int(guess.y - geometry.rise * hh)), min(height, person.y2)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    region = mask[y1:y2, x1:x2]
    count, labels, _, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
    if count <= 1:
        return None
    t1 = max(int(person.y + 0.2 * person.h) - y1, 0)
    t2 = max(int(person.y + 0.6 * person.h) - y1, t1 + 1)
    votes = np.bincount(labels[t1:t2].ravel(), minlength=count)
    votes[0] = 0
    best = int(votes.argmax())
    if votes[best] < 0.1 * person.w * (t2 - t1):
        return None
    body = labels == best
    cx = guess.center[0]
    c1 = max(0, int(cx - 0.3 * person.w) - x1)
    c2 = min(x2 - x1, int(cx + 0.3 * person.w) - x1 + 1)
    window = body[: max(int(guess.y + hh) - y1, 1), c1:c2]
    present = window.any(axis=0)
    if present.sum() < 2:
        return None
    tops = np.sort(window.argmax(axis=0)[present])
    top = int(tops[1])  # the second-highest column: one stray pixel does not lift the head
    band = body[top : int(top + hh), c1:c2].sum(axis=0)
    if band.sum() == 0:
        return None
    centre = x1 + c1 + float((np.arange(band.size) * band).sum() / band.sum()) + 0.5
    y = y1 + top
    return Box.from_xyxy(centre - hw / 2, y, centre + hw / 2, y + hh, person.score)


@dataclass
class _Spot:
    """A place where boxes keep coming back: how often, how strongly, and whether it moved."""

    box: Box
    best_score: float = 0.0
    moved: bool = False
    last_run: int = 0
    judged: int = 0  # runs seen while the background model was ready


class SceneryMemory:
    """Remembers detection places across detector runs, to drop static false positives.

    A place is scenery once a box has come back there (IoU ≥ ``iou``) on ``min_runs``
    runs while the background model was ready, has never scored ``keep_score`` or more and
    has never had moving foreground under it. Places not seen for ``forget_runs`` runs are forgotten.
    """

    def __init__(
        self,
        min_runs: int = 8,
        keep_score: float = 0.5,
        iou: float = 0.6,
        forget_runs: int = 30,
        moving_fraction: float = 0.15,
    ) -> None:
        if min_runs < 2:
            raise InputError(f"scenery needs at least 2 runs to be recognised, got {min_runs}")
        self.min_runs = min_runs
        self.keep_score = keep_score
        self.iou = iou
        self.forget_runs = forget_runs
        self.moving_fraction = moving_fraction
        self._spots: list[_Spot] = []
        self._run = 0

    def is_scenery(self, box: Box, moving: float | None) -> bool:
        """Record one detection of this run; True when its place is known scenery.

        ``moving`` is the share of the box that is moving foreground, or None while the
        background model is still learning (such a run neither clears nor convicts a place).
        """
        spot = max(self._spots, key=lambda s: s.box.iou(box), default=None)
        if spot is None or spot.box.iou(box) < self.iou or spot.last_run == self._run:
            spot = _Spot(box, last_run=-1)
            self._spots.append(spot)
        spot.box, spot.last_run = box, self._run
        spot.best_score = max(spot.best_score, box.score)
        if moving is None:
            return False
        spot.moved = spot.moved or moving >= self.moving_fraction
        spot.judged += 1
        return spot.judged >= self.min_runs and not spot.moved and spot.best_score < self.keep_score

    def next_run(self) -> None:
        """Close one detector run (forget places not seen for a while)."""
        self._run += 1
        self._spots = [s for s in self._spots if self._run - s.last_run <= self.forget_runs]


def _tile_windows(width: int, height: int, nx: int, ny: int, overlap: int) -> list[tuple]:
    """``(x, y, w, h)`` of ``nx``×``ny`` equal windows overlapping by ``overlap`` pixels."""
    tw = min(width, (width + (nx - 1) * overlap) // nx)
    th = min(height, (height + (ny - 1) * overlap) // ny)
    return [
        (min(i * (tw - overlap), width - tw), min(j * (th - overlap), height - th), tw, th)
        for j in range(ny)
        for i in range(nx)
    ]


class HeadDetector:
    """Head boxes from people and silhouettes (see the module docstring).

    ``tiles`` = ``(nx, ny)`` overlapping windows, one network run each; ``whole_frame``
    adds a run on the whole frame ((1, 1), the default, means the whole frame only).
    ``threshold`` is the person score at which a box counts at all; boxes between it and
    the producer's carry threshold are the unsure ones that get pixelated. ``margin``
    enlarges every head box about its centre: a 10 px head placed 3 px off still lies
    mostly inside a box 1.2× its size, and what the margin adds is hair, collar or
    background, all of which may be replaced. ``refiner`` (the producer's default passes
    the shipped one) moves each placed head onto its head before the margin is added.
    """

    def __init__(
        self,
        people: PersonDetector | None = None,
        foreground: ForegroundModel | None = None,
        *,
        tiles: tuple[int, int] = (1, 1),
        tile_overlap: int = 64,
        whole_frame: bool = False,
        threshold: float = PERSON_THRESHOLD,
        geometry: HeadGeometry | None = None,
        scenery: SceneryMemory | None = None,
        margin: float = 1.2,
        min_size: int = 4,
        refiner: HeadRefiner | None = None,
        confirm: float | None = CONFIRM_HEAD,
    ) -> None:
        if tiles[0] < 1 or tiles[1] < 1:
            raise InputError(f"tiles must be at least 1x1, got {tiles[0]}x{tiles[1]}")
        self.people = people or PersonDetector()
        self.foreground = foreground if foreground is not None else ForegroundModel()
        self.tiles = (int(tiles[0]), int(tiles[1]))
        self.tile_overlap = int(tile_overlap)
        self.whole_frame = bool(whole_frame)
        self.threshold = float(threshold)
        self.geometry = geometry or HeadGeometry()
        self.scenery = scenery if scenery is not None else SceneryMemory()
        if not 1.0 <= margin <= 2.0:
            raise InputError(f"head margin must be in [1, 2], got {margin}")
        self.margin = float(margin)
        self.min_size = int(min_size)
        self.refiner = refiner
        self.confirm = confirm
        self.zones: list[Box] = []
        self.last_people: list[Box] = []
        self.scenery_dropped = 0

    @property
    def sha256(self) -> str:
        """The person network's sha256 (recorded with every public stream)."""
        return self.people.sha256

    def observe(self, bgr: np.ndarray) -> None:
        """Feed every frame to the background model, detector frame or not."""
        self.foreground.apply(bgr)

    def _rescore(self, head: Box, headness: float) -> Box:
        """The refiner's verdict on a placed head: a weak person's plain head is raised to
        the carry score (``confirm``). Scenery (score 0) stays scenery, and a strong box
        keeps its score."""
        if 0.0 < head.score < ZONE_UNSURE_BELOW and self.confirm is not None:
            if headness >= self.confirm:
                return Box(head.x, head.y, head.w, head.h, ZONE_UNSURE_BELOW)
        return head

    def settle(
        self, image: np.ndarray, boxes: list[TrackedBox], moves: dict[int, tuple[float, float]]
    ) -> dict[int, tuple[float, float]]:
        """Between detector runs: the flow's move of each track found by the last run,
        corrected by the refiner so that the box lands on its head again (optical flow drifts
        a few pixels a frame on 10 px heads). Without a refiner the moves are returned as
        they are; coasting tracks keep theirs."""
        if self.refiner is None or not self.foreground.ready:
            return moves
        found = [t for t in boxes if t.missed == 0 and t.track_id in moves]
        if not found:
            return moves
        placed = []
        for t in found:
            dx, dy = moves[t.track_id]
            b = t.box.expand(1.0 / self.margin)
            placed.append(Box.from_xyxy(b.x + dx, b.y + dy, b.x2 + dx, b.y2 + dy, b.score))
        refined = self.refiner.refine(image, self.foreground.mask(), placed)
        out = dict(moves)
        for t, before, after in zip(found, placed, refined, strict=True):
            dx, dy = moves[t.track_id]
            out[t.track_id] = (
                dx + after.center[0] - before.center[0],
                dy + after.center[1] - before.center[1],
            )
        return out

    def unsure_zones(self) -> list[Box]:
        """Head zones of the last detector run's unsure person boxes (:func:`head_zone`):
        weak (score below 0.4) or without a silhouette to place the head on. They stand
        until the next run (at most k − 1 frames stale)."""
        return list(self.zones)

    def uncovered_motion(self, heads: list[Box]) -> list[Box]:
        """Tops of the last observed frame's moving blobs that none of ``heads`` covers."""
        if not self.foreground.ready:
            return []
        return motion_tops(self.foreground.last_small_mask(), self.foreground.scale, heads)

    def find_people(self, image: np.ndarray) -> list[Box]:
        """Person boxes on the whole frame and its tiles, merged by IoU suppression."""
        height, width = image.shape[:2]
        rows: list[list[float]] = []
        if self.whole_frame or self.tiles == (1, 1):
            found = self.people.detect(image, self.threshold)
            rows = [[b.x, b.y, b.x2, b.y2, b.score] for b in found]
        if self.tiles != (1, 1):
            for x, y, w, h in _tile_windows(width, height, *self.tiles, self.tile_overlap):
                for b in self.people.detect(image[y : y + h, x : x + w], self.threshold):
                    rows.append([b.x + x, b.y + y, b.x2 + x, b.y2 + y, b.score])
        boxes = np.asarray(rows, np.float32).reshape(-1, 5)
        if len(boxes) == 0:
            return []
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], self.people.nms_iou)]
        return [Box.from_xyxy(row[0], row[1], row[2], row[3], float(row[4])) for row in boxes]

    def detect(self, bgr: np.ndarray) -> list[Box]:
        """Head boxes of one frame, highest score first, clipped to the frame."""
        image = as_bgr(bgr)
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return []
        people = self.find_people(image)
        self.last_people = people
        self.zones = [head_zone(p) for p in people if p.score < ZONE_UNSURE_BELOW]
        mask = self.foreground.mask() if self.foreground.ready else None
        placed: list[Box] = []
        for person in people:
            head = silhouette_head(person, mask, self.geometry) if mask is not None else None
            if head is None:
                guess = self.geometry.head_of(person)
                head = Box(guess.x, guess.y, guess.w, guess.h, person.score * GEOMETRY_ONLY_FACTOR)
                if person.score >= ZONE_UNSURE_BELOW:
                    self.zones.append(head_zone(person))
            moving = self.foreground.fraction(person) if mask is not None else None
            if self.scenery.is_scenery(person, moving):
                # most likely a rock, but a person standing behind a sign since the first
                # frame looks the same: never a surrogate or an ROI, always pixelated
                self.scenery_dropped += 1
                head = Box(head.x, head.y, head.w, head.h, SCENERY_SCORE)
            placed.append(head)
        if self.refiner is not None:
            placed = [
                self._rescore(box, p) for box, p in self.refiner.refine_scored(image, mask, placed)
            ]
        heads: list[Box] = []
        for head in placed:
            head = head.expand(self.margin).clip(width, height)
            if head.w >= self.min_size and head.h >= self.min_size:
                heads.append(head)
        self.scenery.next_run()
        heads.sort(key=lambda b: b.score, reverse=True)
        return heads


def motion_tops(
    mask: np.ndarray | None,
    scale: float,
    covered: list[Box],
    *,
    min_height: int = 8,
    min_area: int = 40,
    min_run: int = 4,
) -> list[Box]:
    """The tops of moving silhouettes that no head box covers (full-frame pixels).

    ``mask`` is the foreground at ``scale`` of the frame. For every blob at least
    ``min_height`` pixels tall and ``min_area`` pixels large, the skyline (its highest
    pixel in each column) is walked; a column is covered when a box of ``covered`` spans it
    at that height (the shoulders beside and below a head box stay uncovered on purpose: a
    head box placed a few pixels off its head leaves the head's lower part there). Each run
    of uncovered columns at least ``min_run`` pixels wide gives a region from the run's
    highest point down by its width (at least a quarter of the blob's height, at most half
    of it), for the producer to pixelate: a person the network did not see — behind a sign,
    inside a crowd's single blob — still moves.
    """
    if mask is None:
        return []
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    inv = 1.0 / scale
    tops: list[Box] = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if h * inv < min_height or area * inv * inv < min_area:
            continue
        blob = labels[y : y + h, x : x + w] == label
        skyline = blob.argmax(axis=0)  # every column of a blob's box holds a blob pixel
        free = np.ones(w, bool)
        for c in covered:
            c1 = max(0, int(c.x * scale) - x)
            c2 = min(w, int(np.ceil(c.x2 * scale)) - x)
            if c2 <= c1:
                continue
            top_y = (y + skyline[c1:c2]) * inv
            free[c1:c2] &= ~((top_y >= c.y - 2) & (top_y <= c.y2 + 2))
        edges = np.flatnonzero(np.diff(np.concatenate([[0], free.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            if (stop - start) * inv < min_run:
                continue
            top = y + int(skyline[start:stop].min())
            run_w = (stop - start) * inv
            tall = min(max(run_w, 0.25 * h * inv), 0.5 * h * inv)
            fx1, fx2 = (x + start) * inv, (x + stop) * inv
            tops.append(Box.from_xyxy(fx1, top * inv, fx2, top * inv + tall, 0.0))
    return tops


def default_head_detector(**options: object) -> HeadDetector:
    """The producer's head finder: people on the whole frame, MOG2 silhouettes, and
    the shipped head refiner (checked against its card) putting each head box on its head."""
    options.setdefault("refiner", HeadRefiner())
    return HeadDetector(**options)  # type: ignore[arg-type]
