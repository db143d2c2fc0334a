"""Read the hidden ROI message of every frame of a video (what ``forensics roi`` prints).

The CLI and the GUI both call :func:`scan_video`; a frame that the decoder could not
decode is skipped by the reader (with its warning), a frame whose message is damaged is
reported as such, and the scan goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from forensics_app.core.stego.embed import extract
from forensics_app.core.stego.message import ExtractResult
from forensics_app.core.video import VideoReader
from forensics_app.errors import InputError


@dataclass(frozen=True)
class FrameRois:
    """The message read from frame ``frame`` of a video."""

    frame: int
    result: ExtractResult

    def to_json(self) -> dict[str, object]:
        """The CLI's JSON line: frame, status, rois (+ stream and embedded frame index)."""
        message = self.result.message
        row: dict[str, object] = {
            "frame": self.frame,
            "status": self.result.status,
            "rois": [list(box) for box in message.boxes] if message else [],
        }
        if message is not None:
            row["stream_id"] = message.stream_id
            row["message_frame"] = message.frame_index
        row["detail"] = self.result.detail
        return row


@dataclass
class ScanSummary:
    """What a scan found: frames of each status, the boxes of the messages that read ok,
    and the seconds it took (set by the caller that timed it).

    The one summary of a scan: ``forensics roi`` prints its :meth:`line`, the GUI's
    background scan (``gui/scan.py``) returns it when done.
    """

    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "none": 0, "damaged": 0})
    faces: int = 0
    seconds: float = 0.0

    def add(self, row: FrameRois) -> None:
        """Count one frame's message (and its boxes, when it reads ok)."""
        self.counts[row.result.status] += 1
        if row.result.status == "ok" and row.result.message is not None:
            self.faces += len(row.result.message.boxes)

    @property
    def frames(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> int:
        return self.counts["ok"]

    @property
    def none(self) -> int:
        return self.counts["none"]

    @property
    def damaged(self) -> int:
        return self.counts["damaged"]

    def line(self) -> str:
        total = sum(self.counts.values())
        c = self.counts
        return f"{total} frames: {c['ok']} ok, {c['none']} none, {c['damaged']} damaged"


MIN_CAMERA_KEY_BYTES = 16
"""The shortest key a camera may be given to MAC its messages (what ``deidentify`` asks)."""


def read_key_file(path: str | Path, min_length: int = 1) -> bytes:
    """The camera MAC key stored in ``path`` (raw bytes), the one reader of key files.

    ``min_length`` is 1 where a key only checks existing messages (``roi``, evidence
    intake) and :data:`MIN_CAMERA_KEY_BYTES` where it will mark new ones (``deidentify``);
    a shorter key raises :class:`InputError` naming the file.
    """
    try:
        key = Path(path).read_bytes()
    except OSError as error:
        raise InputError(f"cannot read key file {path}: {error.strerror}") from None
    if not key:
        raise InputError(f"key file {path} is empty")
    if len(key) < min_length:
        raise InputError(
            f"key file {path} holds {len(key)} bytes; a camera key needs {min_length} or more"
        )
    return key


def scan_video(
    path: str | Path,
    key: bytes | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[FrameRois]:
    """Iterate over the ROI message of each frame of ``path``, in order.

    The video is opened before this returns, so an unreadable file raises VideoError
    (or EvidenceError) at the call, not at the first ``next()``.
    """
    reader = VideoReader(path)
    return _rows(reader, key, progress)


def _rows(
    reader: VideoReader, key: bytes | None, progress: Callable[[int], None] | None
) -> Iterator[FrameRois]:
    with reader:
        for frame in reader:
            yield FrameRois(frame.index, extract(frame.image, key))
            if progress is not None:
                progress(frame.index)
