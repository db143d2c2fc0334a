"""The full ROI scan: read the hidden message of every frame, in the background.

This is the same work as ``forensics roi`` (``core.stego.scan.scan_video``), run as a task whose
partial results (batches of frame marks) stream to the timeline while it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from forensics_app.core.face_geometry import Rect
from forensics_app.core.stego.scan import ScanSummary
from forensics_app.errors import OperationCancelled

BATCH_FRAMES = 10
BATCH_SECONDS = 0.1


@dataclass(frozen=True)
class FrameMark:
    """The hidden-message status of one frame."""

    index: int
    status: str  # "ok" | "none" | "damaged"
    boxes: tuple[Rect, ...] = ()
    detail: str = ""


def mark_frame(index: int, bgr, key: bytes | None = None) -> FrameMark:
    """Read one frame's hidden message (core/stego) into a timeline mark."""
    from forensics_app.core.stego import extract

    result = extract(bgr, key=key)
    boxes: tuple[Rect, ...] = ()
    if result.status == "ok" and result.message is not None:
        boxes = tuple(tuple(int(v) for v in box) for box in result.message.boxes)
    return FrameMark(index, result.status, boxes, str(getattr(result, "detail", "") or ""))


def scan_video(
    path: Path,
    progress: Callable[[int, int], None],
    cancel: Callable[[], bool],
    partial: Callable[[list[FrameMark]], None],
    key: bytes | None = None,
) -> ScanSummary:
    """Scan every frame of ``path`` with core ``stego.scan.scan_video`` (as ``forensics
    roi``); batches of marks go to ``partial`` as they are read, the counts (core's
    :class:`ScanSummary`, the one ``forensics roi`` prints) come back at the end."""
    from forensics_app.core.stego.scan import scan_video as core_scan
    from forensics_app.core.video import probe

    summary = ScanSummary()
    start = time.perf_counter()
    total = int(probe(path).frame_count)
    batch: list[FrameMark] = []
    last_flush = start
    for row in core_scan(path, key=key):
        if cancel():
            raise OperationCancelled("ROI scan cancelled")
        result = row.result
        boxes: tuple[Rect, ...] = ()
        if result.status == "ok" and result.message is not None:
            boxes = tuple(tuple(int(v) for v in box) for box in result.message.boxes)
        summary.add(row)
        batch.append(FrameMark(row.frame, result.status, boxes, str(result.detail or "")))
        now = time.perf_counter()
        if len(batch) >= BATCH_FRAMES or now - last_flush > BATCH_SECONDS:
            partial(batch)
            progress(summary.frames, max(total, summary.frames))
            batch, last_flush = [], now
    if batch:
        partial(batch)
    progress(summary.frames, summary.frames)
    summary.seconds = time.perf_counter() - start
    return summary
