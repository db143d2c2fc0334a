"""Video I/O over PyAV (FFmpeg): probing, exact frame access and safe writing.

Reading goes through :func:`forensics_app.core.readonly.open_evidence`, so a video is only
ever opened read-only, and FFmpeg reads any container it knows. When a video is opened, its
packets are scanned once without decoding (about 1 GB/s: demuxing only). The scan gives

* the exact frame count (``frame_count_source="packets"``),
* every frame's presentation timestamp, so frame *i* is always the *i*-th picture in
  presentation order whatever the frame rate does (variable frame rate keeps its real
  timestamps) and whether a frame in between fails to decode,
* the keyframes, so :meth:`VideoReader.read` seeks to the keyframe at or before a frame and
  decodes forward to it (exact random access),
* truncation: fewer packets than the header declares, or a cut-off last packet.

Streams whose packets carry no usable presentation times (raw ``.h264``, or B-frames in AVI,
which stores decode times only) are numbered in decoder output order and timed from the
frame rate; their random access decodes forward from the start (still exact, slower).

Damaged data never crashes or hangs a reader: a frame the decoder had to conceal comes back
with ``damaged=True`` and a :class:`DamagedFrameWarning`; a frame that cannot be decoded at
all is skipped with a warning (its index stays unused). Writing lives in
:mod:`forensics_app.core.video_writer` and is re-exported here.

Images are BGR ``uint8`` arrays of shape ``H x W x 3``.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import logging
import warnings
from collections import OrderedDict
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np

from forensics_app.core.readonly import open_evidence
from forensics_app.core.video_writer import VideoWriter  # re-exported (see __all__)
from forensics_app.errors import EvidenceError, VideoError

log = logging.getLogger(__name__)

#: FFmpeg error detection while decoding: lets the decoder flag frames it had to conceal.
ERR_DETECT = "crccheck+bitstream+buffer"
#: How many frames a reader decodes forward rather than seeking (when no keyframe is between).
_FORWARD_LIMIT = 250
#: Recently decoded frames a reader keeps (undecoded-to-BGR), so stepping back is instant.
_CACHE_FRAMES = 32


class DamagedFrameWarning(UserWarning):
    """A frame was concealed by the decoder or could not be decoded at all."""


def warn_damage(message: str) -> None:
    """Report damaged data both as a Python warning and in the log (and carry on)."""
    log.warning(message)
    warnings.warn(message, DamagedFrameWarning, stacklevel=3)


@dataclass(frozen=True)
class MediaInfo:
    """Facts about a video file's first video stream.

    ``frame_count_source`` says how ``frame_count`` was found: ``"packets"`` (counted in a
    scan of the file: exact), ``"header"`` (the container's declaration) or ``"estimate"``
    (duration x fps). Times are in seconds; ``start_time`` is the first frame's timestamp.
    """

    container: str
    codec: str
    width: int
    height: int
    fps: float
    frame_count: int
    frame_count_source: str
    duration: float
    has_audio: bool
    pix_fmt: str = ""
    start_time: float = 0.0
    constant_frame_rate: bool | None = None
    audio_codec: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        """Rebuild from :meth:`to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in dict(data).items() if k in names})
        except (TypeError, ValueError) as error:
            raise VideoError(f"malformed media info: {error}") from None


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded picture: its index in presentation order, time in seconds, BGR image."""

    index: int
    pts: float
    image: np.ndarray = field(repr=False)
    damaged: bool = False


@dataclass
class _Index:
    """What the packet scan learned about a video stream."""

    pts: list[int]  # presentation timestamps in stream time base, sorted; [] if unusable
    key_frames: list[int]  # frame indices of keyframes (sorted)
    count: int  # frames in the stream
    problem: str | None  # why the file looks truncated or damaged, if it does
    decodes: bool = True  # whether a frame decoded from the first packets
    start_s: float = 0.0  # time of frame 0 when frames are timed by index (no timestamps)

    def index_of(self) -> dict[int, int]:
        """Map presentation timestamp -> frame index."""
        return {p: i for i, p in enumerate(self.pts)}


def _fail(path: Path, what: str) -> VideoError:
    return VideoError(f"{path}: {what}")


def _ffmpeg_reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return " ".join(str(text).split()) or type(error).__name__


def _open_container(path: Path, threads: bool | None = False) -> tuple[BinaryIO, Any, Any]:
    """Open ``path`` read-only; return (file, container, first video stream).

    ``threads``: True, FFmpeg's frame and slice threads (sequential decoding); False, its
    default; None, no decoding threads at all (random reads of an all-keyframe stream)."""
    if not path.exists():
        raise _fail(path, "no such file")
    if path.is_dir():
        raise _fail(path, "is a folder, not a video")
    if path.stat().st_size == 0:
        raise _fail(path, "empty file, not a video")
    try:
        handle = open_evidence(path)
    except EvidenceError as error:
        raise VideoError(str(error)) from None
    try:
        container = av.open(handle, mode="r", metadata_errors="replace")
    except (av.FFmpegError, ValueError, OSError, UnicodeDecodeError) as error:
        handle.close()
        raise _fail(path, f"not a readable video ({_ffmpeg_reason(error)})") from None
    streams = container.streams.video
    if not streams or streams[0].codec_context is None or not streams[0].codec_context.width:
        fmt = container.format.name
        container.close()
        handle.close()
        raise _fail(path, f"no decodable video stream (format {fmt})")
    stream = streams[0]
    stream.codec_context.options = {"err_detect": ERR_DETECT}
    if threads:
        stream.thread_type = "AUTO"
    elif threads is None:
        stream.codec_context.thread_count = 1
    return handle, container, stream


def _scan(container: Any, stream: Any, decode_budget: int = 64) -> _Index:
    """Demux every packet of ``stream``: timestamps, keyframes, truncation.

    Only the first packets are decoded, until one frame comes out (``decode_budget`` at most),
    to tell a video from data that merely looks like one to the demuxer.
    """
    decoded = False
    pts: list[int] = []
    key_pts: list[int] = []
    count = skipped = 0
    missing_pts = False
    in_decode_order = True  # pts only ever increase in demux order
    last_corrupt = False
    problem = None
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except (av.FFmpegError, OSError) as error:
            problem = f"container damaged after {count} frames ({_ffmpeg_reason(error)})"
            break
        if not decoded and count < decode_budget:
            with contextlib.suppress(av.FFmpegError):
                decoded = bool(packet.decode())
        if packet.size == 0 or packet.is_discard:  # flush, empty chunk, edit-list cut
            skipped += packet.dts is not None  # empty AVI chunks (dropped frames) count in headers
            continue
        count += 1
        last_corrupt = bool(packet.is_corrupt)
        if packet.pts is None:
            missing_pts = True
            continue
        if pts and packet.pts <= pts[-1]:
            in_decode_order = False
        pts.append(packet.pts)
        if packet.is_keyframe:
            key_pts.append(packet.pts)
    declared = int(stream.frames or 0)
    claim = f" (the header declares {declared})" if declared else ""
    if problem is None and last_corrupt:
        problem = f"truncated: the file ends inside frame {count - 1}{claim}"
    elif problem is None and declared > count + skipped:
        problem = f"truncated: the file holds {count} frames{claim}"
    pts.sort()
    # a codec that reorders frames, but packet times that never go back: the container
    # stores decode times only (B-frames in AVI), so they cannot name pictures
    reordered = bool(stream.codec_context.has_b_frames) and in_decode_order and count > 1
    if missing_pts or reordered or len(set(pts)) != len(pts):
        tb = stream.time_base
        start = float(stream.start_time * tb) if stream.start_time is not None and tb else 0.0
        return _Index([], [], count, problem, decoded, start)  # frames numbered in output order
    where = {p: i for i, p in enumerate(pts)}
    keys = sorted(where[p] for p in key_pts) or [0]
    return _Index(pts, keys, count, problem, decoded)


def _media_info(container: Any, stream: Any, index: _Index) -> MediaInfo:
    tb = stream.time_base
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if index.pts and tb:
        start = float(index.pts[0] * tb)
        steps = np.diff(np.asarray(index.pts, dtype=np.int64))
        step = float(np.median(steps)) if steps.size else (1.0 / fps / float(tb) if fps else 0)
        duration = float((index.pts[-1] - index.pts[0]) * tb) + step * float(tb)
        # constant up to the rounding of timestamps to the time base (MKV stores ms)
        spread = int(steps.max()) - int(steps.min()) if steps.size else 0
        constant = spread == 0 or (spread == 1 and step >= 20)
        if duration > 0 and not constant:
            fps = index.count / duration
    else:
        start = float(stream.start_time * tb) if stream.start_time is not None and tb else 0.0
        if stream.duration and tb:
            duration = float(stream.duration * tb)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = index.count / fps if fps else 0.0
        constant = None
    audio = container.streams.audio
    return MediaInfo(
        container=container.format.name,
        codec=stream.codec_context.name,
        width=int(stream.codec_context.width),
        height=int(stream.codec_context.height),
        fps=round(fps, 6),
        frame_count=index.count,
        frame_count_source="packets",
        duration=round(duration, 6),
        has_audio=bool(audio),
        pix_fmt=str(stream.codec_context.pix_fmt or ""),
        start_time=round(start, 6),
        constant_frame_rate=constant,
        audio_codec=audio[0].codec_context.name if audio and audio[0].codec_context else None,
    )


def _open_checked(
    path: Path, allow_truncated: bool, threads: bool | None = False
) -> tuple[BinaryIO, Any, Any, _Index]:
    handle, container, stream = _open_container(path, threads)
    try:
        index = _scan(container, stream)
        if index.count == 0:
            raise _fail(path, "the video stream holds no frames")
        if index.problem and not allow_truncated:
            raise _fail(path, index.problem)
        if not index.decodes:
            raise _fail(path, f"no frame of the {stream.codec_context.name} stream decodes")
        if index.problem:
            warn_damage(f"{path}: {index.problem}; reading what is there")
    except BaseException:
        container.close()
        handle.close()
        raise
    return handle, container, stream, index


def probe(path: str | Path, allow_truncated: bool = False, scan: bool = True) -> MediaInfo:
    """Media facts of a video; VideoError if it is not a usable video.

    With ``scan`` (the default) every packet is read (no decoding) for an exact frame count
    and truncation check. ``scan=False`` reads the headers only, for a quick look at a very
    large file: the frame count is then the header's or an estimate, as
    ``frame_count_source`` says, and truncation goes unnoticed.
    """
    p = Path(path)
    if not scan:
        return _probe_headers(p)
    handle, container, stream, index = _open_checked(p, allow_truncated)
    try:
        return _media_info(container, stream, index)
    finally:
        container.close()
        handle.close()


def _probe_headers(path: Path) -> MediaInfo:
    handle, container, stream = _open_container(path)
    try:
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        tb = stream.time_base
        if stream.duration and tb:
            duration = float(stream.duration * tb)
        else:
            duration = (container.duration or 0) / 1_000_000
        if stream.frames:
            count, source = int(stream.frames), "header"
        else:
            count, source = round(duration * fps), "estimate"
        info = _media_info(container, stream, _Index([], [0], count, None))
        return dataclasses.replace(
            info, frame_count_source=source, fps=round(fps, 6), duration=round(duration, 6)
        )
    finally:
        container.close()
        handle.close()


@dataclass(frozen=True)
class _Decoded:
    """A decoded frame not yet converted to BGR (frames skipped on the way stay unconverted)."""

    index: int
    pts: float
    raw: Any  # av.VideoFrame

    @property
    def damaged(self) -> bool:
        return bool(self.raw.is_corrupt)

    def frame(self) -> Frame:
        return Frame(self.index, self.pts, self.raw.to_ndarray(format="bgr24"), self.damaged)


class _Decoder:
    """One container decoded forward from a seek point, numbering frames by timestamp."""

    def __init__(
        self,
        path: Path,
        index: _Index,
        fps: float,
        threads: bool,
        opened: tuple[BinaryIO, Any, Any] | None = None,
    ) -> None:
        self.path, self.index, self.threads = path, index, threads
        self.fps = fps or 1.0
        self._fresh = opened is None  # nothing demuxed yet: already at the start
        self.handle, self.container, self.stream = opened or _open_container(path, threads)
        self._where = index.index_of()
        self._frames: Iterator[_Decoded] | None = None
        self.next_index: int | None = None  # index the decoder will produce next, if known

    def _reopen(self) -> None:
        self.close()
        self.handle, self.container, self.stream = _open_container(self.path, self.threads)
        self._fresh = True

    def start_at(self, key_index: int) -> None:
        """Go to keyframe ``key_index`` (0: the start); reopen if the format cannot seek."""
        if not self.index.pts:
            key_index = 0
        try:
            if key_index > 0:
                pts = self.index.pts[key_index]
                self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
            elif not self._fresh:
                self.container.seek(0)
            self.stream.codec_context.flush_buffers()
        except (av.FFmpegError, OSError):
            log.debug("%s: cannot seek, decoding from the start", self.path)
            self._reopen()
            key_index = 0
        self._fresh = False
        self._frames = self._decode()
        self.next_index = key_index

    def _decode(self) -> Iterator[_Decoded]:
        counter = 0
        tb = self.stream.time_base
        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except (av.FFmpegError, OSError) as error:
                warn_damage(f"{self.path}: reading stopped, damaged container ({error})")
                return
            try:
                decoded = packet.decode()
            except av.FFmpegError as error:
                at = "" if packet.pts is None else f" at pts {packet.pts}"
                warn_damage(f"{self.path}: a frame{at} cannot be decoded and is skipped ({error})")
                continue
            for vf in decoded:
                if self._where:
                    idx = self._where.get(vf.pts) if vf.pts is not None else None
                    if idx is None:
                        log.debug("%s: frame with unknown pts %s dropped", self.path, vf.pts)
                        continue
                    pts = float(vf.pts * tb)
                else:  # no usable timestamps: output order, times from the frame rate
                    idx = counter
                    pts = self.index.start_s + idx / self.fps
                counter = idx + 1
                yield _Decoded(idx, pts, vf)

    def __iter__(self) -> Iterator[_Decoded]:
        return self

    def __next__(self) -> _Decoded:
        if self._frames is None:
            self.start_at(0)
        assert self._frames is not None
        frame = next(self._frames)
        self.next_index = frame.index + 1
        return frame

    def close(self) -> None:
        """Close this decoder's container and file."""
        self._frames = None
        self.next_index = None
        try:
            self.container.close()
        finally:
            self.handle.close()


class VideoReader:
    """Read-only access to a video: sequential iteration and exact random access.

    Use as a context manager. Iteration (and :meth:`frames`) runs on a decoder of its own,
    so :meth:`read` may be called while iterating. One reader belongs to one thread.
    """

    def __init__(self, path: str | Path, allow_truncated: bool = False, threads: bool = True):
        self.path = Path(path)
        self._threads = threads
        # The scan decodes on no thread but this one (one frame at most), so its codec
        # context has no thread pool and nothing in flight, whoever frees it and when.
        handle, container, stream, index = _open_checked(self.path, allow_truncated, None)
        self._index = index
        self._time_base = stream.time_base
        self.info = _media_info(container, stream, index)
        opened: tuple[BinaryIO, Any, Any] | None = (handle, container, stream)
        if threads and not (index.pts and len(index.key_frames) >= index.count):
            # frames that depend on earlier ones: random reads decode forward from a
            # keyframe, which frame threads speed up. Close the scan's container as probe()
            # does and let the decoder open its own. Every frame a keyframe (the public FFV1
            # stream): a read decodes one frame, which one thread does in ~20 ms, while
            # frame threads would add their pipeline's delay (35 ms, measured). Slice
            # threads were faster still (11 ms), but a long-lived slice-threaded FFV1
            # decoder went with a segfault inside a garbage collection in CI (twice in an
            # earlier session, once in this one), so the random reader keeps no threads.
            container.close()
            handle.close()
            opened = None
        self._decoder = _Decoder(self.path, index, self.info.fps, threads, opened)
        self._live: list[_Decoder] = [self._decoder]
        self._cache: OrderedDict[int, _Decoded] = OrderedDict()
        self._closed = False

    def __len__(self) -> int:
        return self._index.count

    def __del__(self) -> None:  # a reader dropped without close() still releases its files
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every container and file this reader opened."""
        self._closed = True
        self._cache.clear()
        while self._live:
            self._live.pop().close()

    def _check_open(self) -> None:
        if self._closed:
            raise _fail(self.path, "the reader is closed")

    def timestamps(self) -> list[float]:
        """Presentation time in seconds of every frame (index/fps when the stream has none)."""
        if self._index.pts:
            return [float(p * self._time_base) for p in self._index.pts]
        start = self._index.start_s
        return [start + i / (self.info.fps or 1.0) for i in range(len(self))]

    def _key_at_or_before(self, index: int) -> int:
        if not self._index.pts or index <= 0:
            return 0
        keys = self._index.key_frames
        return keys[max(bisect.bisect_right(keys, index) - 1, 0)]

    def _start_for(self, decoder: _Decoder, index: int) -> int | None:
        """Where ``decoder`` starts decoding to reach ``index`` soonest: None when it
        decodes on from where it is, else the keyframe to seek to."""
        key = self._key_at_or_before(index)
        nxt = decoder.next_index
        if nxt is not None and key < nxt <= index and index - nxt <= _FORWARD_LIMIT:
            return None  # no keyframe to seek to in between: decoding on is cheaper
        if nxt is not None and nxt <= index and not self._index.pts:
            return None  # cannot seek anyway
        return key

    def _position(self, decoder: _Decoder, index: int) -> None:
        """Put ``decoder`` where decoding forward reaches ``index`` soonest."""
        key = self._start_for(decoder, index)
        if key is not None:
            decoder.start_at(key)

    def read_cost(self, index: int) -> int:
        """How many frames :meth:`read` would decode now to return frame ``index`` (0 when
        it is cached): a caller with a faster source for far frames asks this first."""
        index = int(index)
        if index in self._cache:
            return 0
        key = self._start_for(self._decoder, index)
        start = self._decoder.next_index if key is None else key
        return index - int(start or 0) + 1

    def read(self, index: int) -> Frame:
        """Frame ``index`` (presentation order), exactly as sequential decoding yields it."""
        self._check_open()
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise _fail(self.path, f"frame index must be an integer, got {index!r}")
        index, n = int(index), len(self)
        if not 0 <= index < n:
            raise _fail(self.path, f"frame {index} is out of range (0..{n - 1})")
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return self._deliver(cached)
        decoder = self._decoder
        self._position(decoder, index)
        key = self._key_at_or_before(index)
        # if the seek lands late or the frame is missing, retry from earlier points once each
        retries = [k for k in dict.fromkeys([self._key_at_or_before(key - 1), 0]) if k < key]
        for restart in [None, *retries]:
            if restart is not None:
                decoder.start_at(restart)
            for frame in decoder:
                self._cache[frame.index] = frame
                if len(self._cache) > _CACHE_FRAMES:
                    self._cache.popitem(last=False)
                if frame.index == index:
                    return self._deliver(frame)
                if frame.index > index:
                    break
        raise _fail(self.path, f"frame {index} cannot be decoded")

    def _deliver(self, frame: _Decoded) -> Frame:
        if frame.damaged:
            warn_damage(f"{self.path}: frame {frame.index} is damaged (decoder concealed it)")
        return frame.frame()

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[Frame]:
        """Frames ``start <= index < stop`` in order; gaps from undecodable frames are warned."""
        pictures = self.pictures(start, stop)
        try:
            for picture in pictures:
                yield picture.frame()
        finally:
            pictures.close()  # closes its decoder now, not whenever the generator is collected

    def pictures(self, start: int = 0, stop: int | None = None) -> Generator[_Decoded, None, None]:
        """As :meth:`frames`, but each frame as FFmpeg decoded it (``raw``: an
        ``av.VideoFrame`` in the stream's own pixel format), for lossless copies."""
        self._check_open()
        n = len(self)
        stop = n if stop is None else min(int(stop), n)
        start = max(int(start), 0)
        if start >= stop:
            return
        decoder = _Decoder(self.path, self._index, self.info.fps, self._threads)
        self._live.append(decoder)
        try:
            if start > 0:
                self._position(decoder, start)
            expected = start
            for frame in decoder:
                if frame.index < start:
                    continue
                if frame.index >= stop:
                    break
                if frame.index > expected:
                    warn_damage(
                        f"{self.path}: frames {expected}..{frame.index - 1} could not be decoded"
                    )
                if frame.damaged:
                    warn_damage(
                        f"{self.path}: frame {frame.index} is damaged (decoder concealed it)"
                    )
                expected = frame.index + 1
                yield frame
            else:
                if expected < stop:
                    warn_damage(f"{self.path}: frames {expected}..{stop - 1} could not be decoded")
        finally:
            if decoder in self._live:
                self._live.remove(decoder)
                decoder.close()

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()


__all__ = [
    "DamagedFrameWarning",
    "Frame",
    "MediaInfo",
    "VideoReader",
    "VideoWriter",
    "probe",
]
