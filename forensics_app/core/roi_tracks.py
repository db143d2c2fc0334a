"""Track ids derived on the analyst's side: the ROI boxes of consecutive frames linked by overlap.

The public stream's ROI message (docs/FORMATS.md, version 2) carries each frame's boxes but
not the producer's tracker ids, and its format stays as it is (issue #13: ``forensics roi``
and the stream must not change). So the analyst side derives its own ids from the boxes it
reads: a deterministic greedy linker on box positions. The same function runs in the GUI (track lanes of
the timeline), in the CLI and in the custody core, where a track-scoped grant is enforced
(:mod:`forensics_app.core.custody.reveal`), so an id means the same thing everywhere.

**What an id means.** Ids are handed out 1, 2, 3 … in order of first appearance (frame,
then face number) from an *origin* frame. Under the current rule (:data:`LINKER`) the
origin is frame 0 of the evidence, for the GUI's lanes, the CLI and a track-scoped
request or grant alike, so one person has one number on the lanes, the box labels, the
request, the approval, the grant, the reveal and the report (:func:`link_origin`). Under
the first rule (:data:`LINKER_FROM_RANGE`, still read: documents signed with it stay
valid and mean what they said) the origin was the first frame of the document's range,
which renumbered a person who was already in view when the range began. A box
continues a track seen at most :data:`MAX_GAP` frames before when it overlaps the track's
last box (IoU ≥ :data:`MIN_IOU`) or its centre lies near where the track's last movement
predicts (within :data:`MAX_STEP` box sizes, half a size more per missed frame) and its
size is within a factor of :data:`MAX_SCALE`; pairs are taken closest first. Small heads
move more than their own width between frames of a low-rate camera (the demo's pedestrians:
13 px boxes, up to 16 px a frame), so overlap alone would split every walker into pieces.
Frames whose message is missing or damaged count as frames without boxes. The linker has no
appearance model: two people who cross, or a person hidden longer than the gap, may swap or
split ids. It is a finding aid and a scope a supervisor
can read ("track 2 of frames 100–400"), not an identification; the reveal shows which
boxes a track holds so the analyst can see what was linked.

The rule is versioned (:data:`LINKER`): a signed request or grant names it, and a document
naming a rule not in :data:`LINKERS` is refused rather than re-interpreted. The linking
itself is causal (a frame's ids depend only on the frames before it), so ids linked from
frame 0 up to a range's last frame are the ids of any longer linking from frame 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from forensics_app.core.face_geometry import Rect
from forensics_app.errors import InputError

#: Name and version of the linking rule new track-scoped requests and grants are signed
#: with: the rule below, ids linked from frame 0 of the evidence (the GUI lanes' numbers).
LINKER = "uunet-roi-link/2"
#: The first rule, still read: the same linking, ids linked from the first frame of the
#: document's ``frames`` (version-2 documents signed before the numbers were unified).
LINKER_FROM_RANGE = "uunet-roi-link/1"
#: Every rule a signed document may name; any other is refused.
LINKERS = (LINKER, LINKER_FROM_RANGE)
#: Intersection-over-union at which two boxes are the same track whatever the motion.
MIN_IOU = 0.3
#: Largest distance, in box sizes (the geometric mean of the two boxes' sqrt(w*h)), from the
#: predicted centre to a box's centre one frame later; half a size more per missed frame.
MAX_STEP = 1.5
#: Largest ratio of the two boxes' sizes for them to be one track.
MAX_SCALE = 2.0
#: Frames a track may go unseen (no matching box) and still continue.
MAX_GAP = 5


def link_origin(linker: str, frames: tuple[int, int]) -> int:
    """The frame a document's track ids are linked from: 0 under :data:`LINKER`, the first
    frame of ``frames`` under :data:`LINKER_FROM_RANGE` (ValueError for any other rule)."""
    if linker == LINKER:
        return 0
    if linker == LINKER_FROM_RANGE:
        return int(frames[0])
    raise ValueError(f"unknown track linking rule {linker!r}")


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when either has no area)."""
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0 or aw <= 0 or ah <= 0 or bw <= 0 or bh <= 0:
        return 0.0
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def _centre(box: Sequence[float]) -> tuple[float, float]:
    return float(box[0]) + float(box[2]) / 2.0, float(box[1]) + float(box[3]) / 2.0


def _size(box: Sequence[float]) -> float:
    return math.sqrt(max(1.0, float(box[2]) * float(box[3])))


@dataclass
class _Live:
    track_id: int
    box: Rect
    last_frame: int
    vx: float = 0.0  # centre movement per frame, from the last two boxes
    vy: float = 0.0

    def cost(self, frame: int, box: Rect) -> float | None:
        """How far ``box`` is from this track's prediction, in allowed steps (None: no match)."""
        dt = frame - self.last_frame
        a, b = _size(self.box), _size(box)
        if max(a, b) > MAX_SCALE * min(a, b):
            return None
        if iou(self.box, box) >= MIN_IOU:
            return 0.0
        cx, cy = _centre(self.box)
        px, py = cx + self.vx * dt, cy + self.vy * dt
        bx, by = _centre(box)
        allowed = math.sqrt(a * b) * (MAX_STEP + 0.5 * (dt - 1))
        distance = math.hypot(bx - px, by - py)
        return distance / allowed if distance <= allowed else None

    def move(self, frame: int, box: Rect) -> None:
        dt = frame - self.last_frame
        (cx, cy), (bx, by) = _centre(self.box), _centre(box)
        self.vx, self.vy = (bx - cx) / dt, (by - cy) / dt
        self.box, self.last_frame = box, frame


@dataclass
class TrackLinker:
    """The linker fed frame by frame, in increasing frame order (see the module docstring).

    ``feed`` returns the track id of each box of the frame, in face order; frames skipped
    between two calls count as frames without boxes.
    """

    max_gap: int = MAX_GAP
    next_id: int = 1
    last_frame: int | None = None
    _live: list[_Live] = field(default_factory=list)

    def feed(self, frame: int, boxes: Sequence[Sequence[int]]) -> list[int]:
        """Link ``boxes`` of ``frame`` to the live tracks; return one track id per box."""
        if self.last_frame is not None and frame <= self.last_frame:
            raise ValueError(f"frame {frame} fed after frame {self.last_frame}")
        self.last_frame = frame
        self._live = [t for t in self._live if frame - t.last_frame <= self.max_gap + 1]
        given = [_box(b) for b in boxes]
        pairs = []
        for track in self._live:
            for j, box in enumerate(given):
                cost = track.cost(frame, box)
                if cost is not None:
                    pairs.append((cost, track.track_id, j, track))
        pairs.sort(key=lambda p: (p[0], p[1], p[2]))  # closest first, then lower id, face
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for _, track_id, j, track in pairs:
            if ids[j] is not None or track_id in used:
                continue
            ids[j] = track_id
            used.add(track_id)
            track.move(frame, given[j])
        for j, box in enumerate(given):
            if ids[j] is None:
                ids[j] = self.next_id
                self._live.append(_Live(self.next_id, box, frame))
                self.next_id += 1
        return [int(i) for i in ids if i is not None]


def _box(box: Sequence[int]) -> Rect:
    x, y, w, h = (int(v) for v in box)
    return x, y, w, h


@dataclass(frozen=True)
class Track:
    """One linked track: its id, the frames it spans and, per frame, its face number."""

    track_id: int
    faces: tuple[tuple[int, int], ...]  # (frame, face number from 1)

    @property
    def first(self) -> int:
        return self.faces[0][0]

    @property
    def last(self) -> int:
        return self.faces[-1][0]

    @property
    def count(self) -> int:
        """How many boxes (frames with this track's face) it holds."""
        return len(self.faces)


def link_tracks(
    boxes_by_frame: Mapping[int, Sequence[Sequence[int]]],
    start: int | None = None,
    stop: int | None = None,
) -> dict[int, list[int]]:
    """Track ids of every box of the frames ``start``..``stop`` (inclusive), linked from ``start``.

    ``boxes_by_frame`` maps a frame to its boxes in face order (a frame absent or with no
    boxes is a frame without boxes). Returns frame → one id per box, for the frames that have
    boxes. ``start`` defaults to the first frame given: ids are relative to it.
    """
    frames = sorted(f for f in boxes_by_frame if boxes_by_frame[f])
    if start is None:
        start = frames[0] if frames else 0
    linker = TrackLinker()
    out: dict[int, list[int]] = {}
    for frame in frames:
        if frame < start or (stop is not None and frame > stop):
            continue
        out[frame] = linker.feed(frame, boxes_by_frame[frame])
    return out


def tracks_of(ids_by_frame: Mapping[int, Sequence[int]]) -> list[Track]:
    """The tracks of a linking (as :func:`link_tracks` returns), in id order."""
    faces: dict[int, list[tuple[int, int]]] = {}
    for frame in sorted(ids_by_frame):
        for k, track_id in enumerate(ids_by_frame[frame], 1):
            faces.setdefault(int(track_id), []).append((frame, k))
    return [Track(t, tuple(faces[t])) for t in sorted(faces)]


def tracks_covering(
    ids_by_frame: Mapping[int, Sequence[int]],
    faces: Iterable[tuple[int, int]],
) -> list[int]:
    """The ids, in one linking, of the tracks holding any of ``faces`` ((frame, face K) pairs).

    How a track picked in one linking is named in another, by its boxes rather than its
    number: the GUI's lanes and a request under :data:`LINKER` are both linked from frame 0
    and agree, but a linking from a range's first frame (:data:`LINKER_FROM_RANGE`) numbers
    a track that lived across the range's start differently.
    """
    found: set[int] = set()
    for frame, k in faces:
        ids = ids_by_frame.get(frame)
        if ids is not None and 1 <= k <= len(ids):
            found.add(int(ids[k - 1]))
    return sorted(found)


def track_words(tracks: Sequence[int], origin: int | None = 0) -> str:
    """A document's track scope as every view and the report print it: ``"track 3"``,
    ``"tracks 3, 5"``; ``origin`` (the frame the ids are linked from) is named only when
    it is not frame 0, i.e. for a document under :data:`LINKER_FROM_RANGE`, whose numbers
    are not the lanes'."""
    ids = ", ".join(str(int(t)) for t in tracks)
    words = f"track{'s' if len(tracks) != 1 else ''} {ids}"
    return words if not origin else f"{words} (numbered from frame {origin})"


def parse_tracks(text: str) -> tuple[int, ...]:
    """``"2"`` or ``"1,3"`` as a sorted tuple of distinct track ids (InputError otherwise)."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    if not parts or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise InputError(f"bad track list {text!r}: use ids from 1, e.g. 2 or 1,3")
    return tuple(sorted({int(p) for p in parts}))
