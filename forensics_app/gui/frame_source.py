"""Frames for display, decoded on a thread of their own so seeking never blocks the UI.

One decoder thread owns a :class:`forensics_app.core.video.VideoReader` (a PyAV container
must stay on one thread). The UI asks for a frame with :meth:`FrameSource.request`; only the
latest request is served (scrubbing fast skips the frames in between), decoded frames are
kept in a small LRU cache; the reader decodes forward instead of seeking when the next
frame is asked for (playback).

A video with long runs between keyframes (H.264 with a keyframe every 250 frames) gets a
seek copy (:mod:`forensics_app.core.seek_copy`), built once on a thread of its own: a
cold read far from the decoder's position then comes from the copy, each frame checked
against the digest of the evidence's own, and when the user pauses on such a frame it is
decoded from the evidence as well and compared; a mismatch drops the copy for good.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from forensics_app.core import seek_copy
from forensics_app.core.evidence import sha256_file
from forensics_app.core.video import Frame, VideoReader
from forensics_app.errors import ForensicsError

log = logging.getLogger(__name__)

#: Memory for decoded frames (BGR, shared with their QImage); a clip that fits is decoded in the background
#: once, after which every seek is a cache hit.
CACHE_MB = 512
#: Seconds without a new request before a frame shown from the seek copy is compared with
#: the evidence's own decoding (which may take a long GOP's worth of decoding).
CONFIRM_AFTER_S = 0.3


@dataclass(frozen=True)
class DisplayFrame:
    """A decoded frame ready to show: index, timestamp, BGR pixels and a QImage view."""

    index: int
    pts: float
    image: np.ndarray
    qimage: QImage
    decode_ms: float
    mark: object | None = None  # what the annotator made of it (the ROI message)
    from_copy: bool = False  # read from the seek copy (checked against its digest)


def bgr_to_qimage(bgr: np.ndarray, copy: bool = True) -> QImage:
    """A QImage of a BGR uint8 image: an owning copy, or (``copy=False``) a view whose
    pixels stay valid only while ``bgr`` is alive and unchanged."""
    data = np.ascontiguousarray(bgr)
    height, width = data.shape[:2]
    image = QImage(data.data, width, height, data.strides[0], QImage.Format.Format_BGR888)
    return image.copy() if copy else image


class FrameSource(QObject):
    """Decodes requested frames of one video on a background thread."""

    frame_ready = Signal(object)  # DisplayFrame
    failed = Signal(str)
    notice = Signal(str)  # one line for the status bar (the seek copy's state)

    def __init__(
        self,
        path: Path,
        cache_mb: int = CACHE_MB,
        annotate: Callable[[int, np.ndarray], object] | None = None,
        prefetch: bool = True,
        parent: QObject | None = None,
        seek_copies: bool = True,
    ) -> None:
        super().__init__(parent)
        self.annotate = annotate
        self.path = Path(path)
        self.reader = VideoReader(self.path)  # opened here so bad input fails at once
        self.info = self.reader.info
        self.frame_count = int(self.info.frame_count)
        frame_bytes = max(1, int(self.info.width) * int(self.info.height) * 3)
        self._cache: OrderedDict[int, DisplayFrame] = OrderedDict()
        self._cache_size = max(8, min(self.frame_count, cache_mb * 1024 * 1024 // frame_bytes))
        self._prefetch = prefetch
        self._last_request = 0
        self._cond = threading.Condition()
        self._wanted: int | None = None
        self._stop = False
        # the seek copy: built on its own thread, opened and read on the decoder thread
        self._copy: seek_copy.SeekCopy | None = None
        self._copy_sha: str | None = None  # set when a verified copy is ready to open
        self._copy_cancel = threading.Event()
        self._unconfirmed: int | None = None  # last frame shown from the copy, not yet compared
        self._shown_at = 0.0
        self._builder: threading.Thread | None = None
        why_not = seek_copy.worth_copying(self.reader) if seek_copies else "not asked for"
        if why_not is None:
            self._builder = threading.Thread(target=self._build_copy, name="seek-copy", daemon=True)
        else:
            log.debug("%s: no seek copy: %s", self.path.name, why_not)
        self._thread = threading.Thread(target=self._loop, name="frame-source", daemon=True)
        self._thread.start()
        if self._builder is not None:  # once the caller has connected to ``notice``
            QTimer.singleShot(0, self, self._start_builder)

    # -- UI thread -------------------------------------------------------------------
    def request(self, index: int) -> None:
        """Ask for frame ``index``; a newer request replaces one not yet started."""
        index = max(0, min(int(index), self.frame_count - 1))
        with self._cond:
            self._wanted = index
            self._cond.notify()

    def cached(self, index: int) -> DisplayFrame | None:
        """The frame if it is already decoded."""
        with self._cond:
            return self._cache.get(index)

    def close(self) -> None:
        """Stop the decoder thread and release the file."""
        self._copy_cancel.set()
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)
        if self._builder is not None and self._builder.is_alive():
            self._builder.join(timeout=5)
        try:
            self.reader.close()
            if self._copy is not None:
                self._copy.close()
        except Exception:  # closing must never raise into the UI
            log.debug("closing the video reader failed", exc_info=True)

    @property
    def seek_copy_ready(self) -> bool:
        """True once a verified seek copy serves cold reads (or is about to)."""
        with self._cond:
            return self._copy_sha is not None

    def _start_builder(self) -> None:
        if self._builder is not None and not self._copy_cancel.is_set():
            self._builder.start()

    # -- seek copy thread ------------------------------------------------------------
    def _build_copy(self) -> None:
        """Find or build this video's seek copy; hand it to the decoder thread when ready."""
        name = self.path.name
        try:
            sha = sha256_file(self.path)
            try:
                seek_copy.SeekCopy(sha, self.frame_count).close()  # one there already: checked
            except seek_copy.SeekCopyError:
                self.notice.emit(f"{name}: building a seek copy for fast random access…")
                started = time.perf_counter()
                shown = [0]

                def progress(done: int, total: int) -> None:  # a line every tenth
                    tenth = 10 * done // max(total, 1)
                    if tenth > shown[0] and done < total:
                        shown[0] = tenth
                        self.notice.emit(
                            f"{name}: building a seek copy for fast random access… {10 * tenth} %"
                        )

                seek_copy.build(self.path, sha, progress=progress, cancel=self._copy_cancel.is_set)
                self.notice.emit(
                    f"{name}: seek copy ready ({time.perf_counter() - started:.0f} s); "
                    "frames shown from it are checked against the evidence"
                )
        except Exception as error:  # a missing copy costs time, never a frame
            if not self._copy_cancel.is_set():
                log.warning("%s: no seek copy: %s", name, error)
                self.notice.emit(f"{name}: no seek copy ({error}); seeking decodes the evidence")
            return
        with self._cond:
            self._copy_sha = sha
            self._cond.notify()

    # -- decoder thread --------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                ahead = None
                confirm = None
                while self._wanted is None and not self._stop:
                    if self._unconfirmed is not None:  # compare once scrubbing pauses
                        due = self._shown_at + CONFIRM_AFTER_S - time.monotonic()
                        if due <= 0:
                            confirm, self._unconfirmed = self._unconfirmed, None
                            break
                        self._cond.wait(due)
                        continue
                    ahead = self._next_to_prefetch()
                    if ahead is not None:
                        break
                    self._cond.wait()
                if self._stop:
                    return
            if confirm is not None:
                self._confirm(confirm)
                continue
            with self._cond:
                if self._wanted is None and ahead is not None:
                    index, emit = ahead, False
                else:
                    index, self._wanted, emit = self._wanted, None, True
                    self._last_request = index
                hit = self._cache.get(index)
                if hit is not None:
                    self._cache.move_to_end(index)
            if hit is not None:
                self._shown(hit)
                continue
            try:
                frame = self._decode(index)
            except ForensicsError as error:
                self.failed.emit(str(error))
                continue
            except Exception as error:  # a corrupt frame must not kill the thread
                log.exception("decoding frame %d failed", index)
                self.failed.emit(f"frame {index} could not be decoded: {error}")
                continue
            with self._cond:
                self._cache[index] = frame
                if not emit:  # prefetched: the least recently used end, first to go
                    self._cache.move_to_end(index, last=False)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            if emit:
                self._shown(frame)

    def _next_to_prefetch(self) -> int | None:
        """While idle, the next frame to decode ahead of the playhead (then from the start)
        until the cache budget is full; sequential decoding is cheap, seeking is not."""
        if not self._prefetch or len(self._cache) >= self._cache_size:
            return None
        for index in range(self._last_request + 1, self.frame_count):
            if index not in self._cache:
                return index
        for index in range(0, self._last_request):
            if index not in self._cache:
                return index
        return None

    def _shown(self, frame: DisplayFrame) -> None:
        """Hand ``frame`` to the UI; one from the seek copy (decoded now or prefetched
        earlier) is compared with the evidence once the user pauses on it."""
        if frame.from_copy:
            with self._cond:
                self._unconfirmed, self._shown_at = frame.index, time.monotonic()
        self.frame_ready.emit(frame)

    def _read(self, index: int) -> tuple[Frame, bool]:
        """Frame ``index`` from the evidence, or from the seek copy when reaching it in the
        evidence means decoding more than the copy's keyframe run; and whether it came
        from the copy."""
        if self._copy is None and self._copy_sha is not None:
            try:  # the builder checked the copy's file a moment ago; each frame is checked too
                self._copy = seek_copy.SeekCopy(self._copy_sha, self.frame_count, False)
            except seek_copy.SeekCopyError as error:
                self._drop_copy(str(error))
        if self._copy is not None and self.reader.read_cost(index) > seek_copy.GOP:
            try:
                return self._copy.read(index), True
            except (seek_copy.SeekCopyError, ForensicsError) as error:
                self._drop_copy(str(error))
        return self.reader.read(index), False  # decodes forward from the last frame if cheaper

    def _drop_copy(self, why: str) -> None:
        log.warning("%s: seek copy dropped: %s", self.path.name, why)
        if self._copy is not None:
            self._copy.close()
        self._copy = None
        with self._cond:
            self._copy_sha = None
            self._unconfirmed = None
        self.notice.emit(f"{self.path.name}: seek copy dropped ({why}); decoding the evidence")

    def _confirm(self, index: int) -> None:
        """The user paused on a frame shown from the seek copy: decode it from the evidence
        and compare; on a mismatch drop the copy and show the evidence's frame instead."""
        with self._cond:
            shown = self._cache.get(index)
        if shown is None or self._copy is None:
            return
        try:
            frame = self.reader.read(index)
        except ForensicsError:
            return  # the evidence's own read fails: the user hears of it when asking for it
        if seek_copy.frame_digest(frame.image) == seek_copy.frame_digest(shown.image):
            return
        self._drop_copy(f"frame {index} differs from the evidence")
        with self._cond:
            self._cache.clear()
        replacement = self._display(index, frame, time.perf_counter())
        with self._cond:
            self._cache[index] = replacement
        self.frame_ready.emit(replacement)

    def _decode(self, index: int) -> DisplayFrame:
        start = time.perf_counter()
        raw, from_copy = self._read(index)
        return self._display(index, raw, start, from_copy)

    def _display(
        self, index: int, raw: Frame, start: float, from_copy: bool = False
    ) -> DisplayFrame:
        image = np.ascontiguousarray(raw.image)
        image.setflags(write=False)
        qimage = bgr_to_qimage(image, copy=False)  # shares the pixels; DisplayFrame keeps both
        elapsed = (time.perf_counter() - start) * 1000.0
        mark = None
        if self.annotate is not None:
            try:
                mark = self.annotate(index, raw.image)
            except Exception:  # a bad message never hides the frame
                log.warning("reading the hidden message of frame %d failed", index, exc_info=True)
        return DisplayFrame(index, float(raw.pts), image, qimage, elapsed, mark, from_copy)
