"""Writing derived videos: FFV1 (lossless) or H.264, atomically, optionally with source audio.

A :class:`VideoWriter` writes to a hidden temporary file in the destination folder and moves
it into place with :func:`os.replace` only when :meth:`VideoWriter.close` succeeds. An
exception inside a ``with`` block, Ctrl-C, or :meth:`VideoWriter.abort` removes the
temporary file, so a half-written video never appears under the final name.

Pixel formats, chosen so geometry and (for FFV1) every bit survive:

* ``ffv1``: ``bgr0`` (RGB coded losslessly, no chroma subsampling), every frame a keyframe
  (``g=1``) with per-slice CRCs, so BGR frames of any size, odd included, round-trip exactly
  and damage stays within one frame.
* ``h264`` (libx264 at the given CRF): ``yuv420p`` for even sizes (plays everywhere);
  ``yuv444p`` for odd sizes, because 4:2:0 needs even sizes and we will not pad or crop
  evidence-derived frames (the High 4:4:4 profile is not supported by every player);
  ``yuv444p`` at any size with ``chroma="444"``, for streams whose small surrogate faces
  must keep their colour (docs/RESULTS.md "Where the clip's reveal loses").

The container comes from the file extension (``.mkv``, ``.avi``, ``.mov``, ``.mp4``...).
``write(image, pts=seconds)`` keeps the source's real (even variable) timestamps to the
millisecond; AVI holds a constant frame rate only.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from forensics_app.core.readonly import open_evidence
from forensics_app.errors import EvidenceError, VideoError

CODECS = ("ffv1", "h264")
#: H.264 chroma sampling: ``420`` (yuv420p, what every player decodes; a frame of odd size
#: falls back to 444) or ``444`` (yuv444p, High 4:4:4 profile: colour at full resolution,
#: which small surrogate faces need to keep U_d's code, but which browsers and hardware
#: decoders often cannot play). ffv1 always stores full-resolution colour (bgr0).
CHROMA = ("420", "444")


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return " ".join(str(text).split()) or type(error).__name__


def _as_rate(fps: float | Fraction) -> Fraction:
    """The frame rate as a fraction (29.97... becomes 30000/1001)."""
    try:
        rate = fps if isinstance(fps, Fraction) else Fraction(float(fps)).limit_denominator(1001)
    except (TypeError, ValueError, OverflowError):
        raise VideoError(f"frame rate must be a positive number, got {fps!r}") from None
    if rate <= 0:
        raise VideoError(f"frame rate must be positive, got {fps}")
    return rate


def _default_time_base(rate: Fraction, suffix: str) -> Fraction:
    """1/fps for AVI (constant rate only); elsewhere fine enough for real timestamps.

    1/lcm(fps numerator, 1000) has millisecond resolution for variable frame rates passed as
    ``write(image, pts=...)`` and still counts every frame of a constant rate exactly.
    """
    if suffix.lower() == ".avi":
        return 1 / rate
    return Fraction(1, math.lcm(rate.numerator, 1000))


class VideoWriter:
    """Encode BGR frames to ``path`` (atomic: temp file, then ``os.replace`` on close)."""

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float | Fraction,
        codec: str = "ffv1",
        crf: int = 23,
        audio_from: str | Path | None = None,
        *,
        preset: str = "medium",
        time_base: Fraction | None = None,
        x264_params: str | None = None,
        chroma: str = "420",
    ) -> None:
        self.path = Path(path)
        if codec not in CODECS:
            raise VideoError(f"unknown codec {codec!r}; use one of {', '.join(CODECS)}")
        if chroma not in CHROMA:
            raise VideoError(f"unknown chroma {chroma!r}; use one of {', '.join(CHROMA)}")
        try:
            width, height = int(width), int(height)
        except (TypeError, ValueError):
            raise VideoError(f"bad frame size {width!r}x{height!r} for {self.path}") from None
        if width <= 0 or height <= 0:
            raise VideoError(f"bad frame size {width}x{height} for {self.path}")
        if not 0 <= int(crf) <= 51:
            raise VideoError(f"CRF must be within 0..51, got {crf}")
        parent = self.path.parent
        if not parent.is_dir():
            raise VideoError(f"cannot write {self.path}: output folder {parent} does not exist")
        if self.path.is_dir():
            raise VideoError(f"cannot write {self.path}: it is a folder")
        if not self.path.suffix:
            raise VideoError(f"cannot write {self.path}: give it an extension such as .mkv")
        self.width, self.height, self.codec = width, height, codec
        self.chroma = chroma
        self.rate = _as_rate(fps)
        self.time_base = (
            time_base if time_base is not None else _default_time_base(self.rate, self.path.suffix)
        )
        self._tmp = parent / f".{self.path.stem}.partial-{secrets.token_hex(4)}{self.path.suffix}"
        self._count = 0
        self._last_pts: int | None = None
        self._closed = False
        self._audio_src: tuple[Any, Any] | None = None  # (file, container)
        self._audio_packets: Any = None
        self._audio_out: Any = None
        self._pending: Any = None
        try:
            self._container = av.open(str(self._tmp), mode="w")
        except (av.FFmpegError, ValueError, OSError) as error:
            self._remove_tmp()
            raise VideoError(f"cannot write {self.path}: {_reason(error)}") from None
        try:
            self._stream = self._add_video_stream(crf, preset, x264_params)
            if audio_from is not None:
                self._add_audio(Path(audio_from))
        except BaseException:
            self.abort()
            raise

    def _add_video_stream(self, crf: int, preset: str, x264_params: str | None) -> Any:
        try:
            if self.codec == "ffv1":
                stream = self._container.add_stream("ffv1", rate=self.rate)
                stream.pix_fmt = "bgr0"
                stream.options = {"level": "3", "slicecrc": "1", "g": "1"}
            else:
                stream = self._container.add_stream("libx264", rate=self.rate)
                even = self.width % 2 == 0 and self.height % 2 == 0
                stream.pix_fmt = "yuv420p" if even and self.chroma == "420" else "yuv444p"
                stream.options = {"crf": str(int(crf)), "preset": preset}
                if x264_params:
                    stream.options = {**stream.options, "x264-params": x264_params}
                ctx = stream.codec_context
                ctx.colorspace, ctx.color_range = 6, 1  # BT.601 (smpte170m), limited range
                ctx.color_primaries, ctx.color_trc = 6, 6
            stream.width, stream.height = self.width, self.height
            stream.codec_context.time_base = self.time_base
            stream.thread_type = "AUTO"
        except (av.FFmpegError, ValueError) as error:
            raise VideoError(
                f"cannot write {self.codec} to {self.path}: {_reason(error)}"
            ) from None
        return stream

    def _add_audio(self, source: Path) -> None:
        """Copy the first audio stream of ``source`` unchanged (packets, not re-encoded)."""
        if self.path.exists() and source.exists() and os.path.samefile(self.path, source):
            raise VideoError(f"refusing to overwrite {self.path}: it is the audio source")
        try:
            handle = open_evidence(source)
        except EvidenceError as error:
            raise VideoError(str(error)) from None
        try:
            src = av.open(handle, mode="r")
        except (av.FFmpegError, ValueError, OSError) as error:
            handle.close()
            raise VideoError(f"{source}: cannot read audio ({_reason(error)})") from None
        self._audio_src = (handle, src)
        if not src.streams.audio:
            return  # nothing to copy
        audio = src.streams.audio[0]
        try:
            self._audio_out = self._container.add_stream_from_template(audio)
        except (av.FFmpegError, ValueError) as error:
            raise VideoError(
                f"cannot copy {audio.codec_context.name} audio into {self.path}: {_reason(error)}"
            ) from None
        self._audio_packets = src.demux(audio)

    @property
    def frames_written(self) -> int:
        """How many frames were written so far."""
        return self._count

    def write(self, image: np.ndarray, pts: float | None = None) -> None:
        """Encode one BGR ``uint8`` frame; ``pts`` (seconds) keeps a variable frame rate."""
        if self._closed:
            raise VideoError(f"cannot write to {self.path}: the writer is closed")
        if (
            not isinstance(image, np.ndarray)
            or image.dtype != np.uint8
            or image.shape != (self.height, self.width, 3)
        ):
            got = getattr(image, "shape", type(image).__name__)
            raise VideoError(
                f"frame for {self.path} must be uint8 {self.height}x{self.width}x3 BGR, got {got}"
            )
        if pts is None:
            ticks = round(self._count / self.rate / self.time_base)
        else:
            ticks = round(Fraction(pts) / self.time_base)
        if self._last_pts is not None and ticks <= self._last_pts:
            raise VideoError(
                f"timestamps of {self.path.name} must increase by at least {self.time_base} s:"
                f" {pts} s after frame {self._count - 1}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame = frame.reformat(format=self._stream.pix_fmt)
        frame.pts, frame.time_base = ticks, self.time_base
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self._mux_audio(until=float(ticks * self.time_base))
        except (av.FFmpegError, OSError) as error:
            raise VideoError(f"writing {self.path} failed: {_reason(error)}") from None
        self._last_pts = ticks
        self._count += 1

    def _mux_audio(self, until: float | None) -> None:
        """Copy source audio packets up to ``until`` seconds (all of them when None)."""
        if self._audio_packets is None:
            return
        while True:
            packet = self._pending
            self._pending = None
            if packet is None:
                try:
                    packet = next(self._audio_packets)
                except StopIteration:
                    self._audio_packets = None
                    return
            if packet.dts is None:  # demuxer flush packet
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            if until is not None and float(stamp * packet.time_base) > until:
                self._pending = packet
                return
            packet.stream = self._audio_out
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder, finish the file and move it into place under its final name."""
        if self._closed:
            return
        if self._count == 0:
            self.abort()
            raise VideoError(f"no frames were written; {self.path} not created")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._mux_audio(until=None)
            self._container.close()
            self._close_audio_source()
            os.replace(self._tmp, self.path)
        except (av.FFmpegError, OSError) as error:
            self.abort()
            raise VideoError(f"finishing {self.path} failed: {_reason(error)}") from None
        self._closed = True

    def abort(self) -> None:
        """Stop writing and delete the temporary file; the final name is left untouched."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._container.close()
        self._close_audio_source()
        self._remove_tmp()

    def _close_audio_source(self) -> None:
        if self._audio_src is not None:
            handle, src = self._audio_src
            self._audio_src = None
            self._audio_packets = None
            with contextlib.suppress(Exception):
                src.close()
            handle.close()

    def _remove_tmp(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:  # a writer dropped without close() leaves no temp file
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):
                self.abort()
