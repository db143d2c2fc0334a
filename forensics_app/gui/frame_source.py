"""Frames for display, decoded on a thread of their own so seeking never blocks the UI.

One decoder thread owns a :class:`forensics_app.core.video.VideoReader` (a PyAV container
must stay on one thread). The UI asks for a frame with :meth:`FrameSource.request`; only the
latest request is served (scrubbing fast skips the frames in between), decoded frames are
kept in a small LRU cache; the reader decodes forward instead of seeking when the next
frame is asked for (playback).
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
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from forensics_app.core.video import VideoReader
from forensics_app.errors import ForensicsError

log = logging.getLogger(__name__)

#: Memory for decoded frames (BGR, shared with their QImage); a clip that fits is decoded in the background
#: once, after which every seek is a cache hit.
CACHE_MB = 512


@dataclass(frozen=True)
class DisplayFrame:
    """A decoded frame ready to show: index, timestamp, BGR pixels and a QImage view."""

    index: int
    pts: float
    image: np.ndarray
    qimage: QImage
    decode_ms: float
    mark: object | None = None  # what the annotator made of it (the ROI message)


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

    def __init__(
        self,
        path: Path,
        cache_mb: int = CACHE_MB,
        annotate: Callable[[int, np.ndarray], object] | None = None,
        prefetch: bool = True,
        parent: QObject | None = None,
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
        self._thread = threading.Thread(target=self._loop, name="frame-source", daemon=True)
        self._thread.start()

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
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)
        try:
            self.reader.close()
        except Exception:  # closing must never raise into the UI
            log.debug("closing the video reader failed", exc_info=True)

    # -- decoder thread --------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                ahead = None
                while self._wanted is None and not self._stop:
                    ahead = self._next_to_prefetch()
                    if ahead is not None:
                        break
                    self._cond.wait()
                if self._stop:
                    return
                if self._wanted is None and ahead is not None:
                    index, emit = ahead, False
                else:
                    index, self._wanted, emit = self._wanted, None, True
                    self._last_request = index
                hit = self._cache.get(index)
                if hit is not None:
                    self._cache.move_to_end(index)
            if hit is not None:
                self.frame_ready.emit(hit)
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
                self.frame_ready.emit(frame)

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

    def _decode(self, index: int) -> DisplayFrame:
        start = time.perf_counter()
        raw = self.reader.read(index)  # decodes forward from the last frame when that is cheaper
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
        return DisplayFrame(index, float(raw.pts), image, qimage, elapsed, mark)
