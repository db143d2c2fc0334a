"""A lossless short-GOP copy of a long-GOP video, so random display reads stay fast (#17).

A cold read of frame k in H.264 with a keyframe every 250 frames decodes every frame from
the keyframe before k: up to 249 frames, ~250 ms on two cores, whatever the index. Video
editors answer this with an "optimised media" copy; this is that copy, built for evidence:

* it holds every frame exactly as :meth:`VideoReader.read` returns it (BGR, lossless), with
  a keyframe every :data:`GOP` frames, so a cold read decodes at most ``GOP`` frames;
* while it is built, the BLAKE2b digest of every original frame is recorded, and every
  frame read back from the copy is checked against it: what is shown from the copy is the
  evidence's frame bit for bit, or it is not shown (:class:`SeekCopyError`, and the caller
  decodes the evidence instead);
* it is display only. Reveals, ROI scans, reports and exports read the evidence itself.

Copies live in ``$FORENSICS_SEEK_CACHE`` (``off`` switches them off), else
``$XDG_CACHE_HOME`` or ``~/.cache`` under ``uunet-forensics/seek``, one folder per
evidence sha256: ``copy.mp4`` and ``manifest.json`` (docs/FORMATS.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from forensics_app.core.evidence import sha256_file
from forensics_app.core.user_cache import user_cache_dir
from forensics_app.core.video import Frame, VideoReader
from forensics_app.errors import ForensicsError

log = logging.getLogger(__name__)

#: Environment variable naming the folder of seek copies ("off": never build or use one).
CACHE_ENV = "FORENSICS_SEEK_CACHE"
FORMAT = "uunet-seek-copy"
VERSION = 1
#: Frames per keyframe in the copy: a cold read decodes at most this many.
GOP = 8
#: A video whose longest run between keyframes is at most this gets no copy: its own cold
#: reads are already short.
MIN_GOP = 32
#: Environment variable: the most GiB all seek copies together may take (default 8). The
#: least recently used copies are deleted to make room; a copy estimated larger than the
#: whole budget (frames × width × height × 3 × 0.3: the lossless copy of the 768×576
#: sample takes ~0.08 of raw BGR from YUV 4:2:0, ~0.25 as BGR) is not built.
BUDGET_ENV = "FORENSICS_SEEK_CACHE_GB"
_YUV = {"yuv420p", "yuv422p", "yuv444p"}  # copied plane for plane; others as BGR
_OPTIONS = {"qp": "0", "preset": "ultrafast", "g": str(GOP), "bf": "0"}  # qp 0: lossless
_CONTAINER = "mp4"  # an exact sample index; frames numbered in a 1/25 time base
_TIME_BASE = Fraction(1, 25)  # the copy numbers frames; their times are in the manifest


class SeekCopyError(ForensicsError):
    """The seek copy is missing, stale, damaged or does not match the evidence."""


def cache_root() -> Path | None:
    """Where seek copies are kept, or None when ``$FORENSICS_SEEK_CACHE`` is ``off``."""
    return user_cache_dir(CACHE_ENV, "seek")


def longest_gop(reader: VideoReader) -> int:
    """Most frames a cold read of ``reader`` may have to decode (its longest keyframe run;
    the whole video when its timestamps cannot be trusted to seek by)."""
    keys = list(reader._index.key_frames) if reader._index.pts else [0]
    bounds = [*keys, len(reader)]
    return max(b - a for a, b in zip(bounds, bounds[1:], strict=False))


def worth_copying(reader: VideoReader) -> str | None:
    """None when a seek copy of ``reader``'s video should be built, else why not."""
    if cache_root() is None:
        return f"seek copies are switched off (${CACHE_ENV}=off)"
    gop = longest_gop(reader)
    if gop <= MIN_GOP:
        return f"keyframes every {gop} frames at most: cold reads are already short"
    estimate, budget = estimated_bytes(reader), budget_bytes()
    if estimate > budget:
        return (
            f"a copy would take ~{estimate / 1024**3:.1f} GiB, over the seek cache's "
            f"{budget / 1024**3:g} GiB (${BUDGET_ENV})"
        )
    return None


def estimated_bytes(reader: VideoReader) -> int:
    """A generous guess of the size of ``reader``'s seek copy."""
    info = reader.info
    return int(len(reader) * info.width * info.height * 3 * 0.3)


def budget_bytes() -> int:
    """The seek cache's budget in bytes (``$FORENSICS_SEEK_CACHE_GB``, default 8 GiB)."""
    try:
        gib = float(os.environ.get(BUDGET_ENV, "8"))
    except ValueError:
        gib = 8.0
    return int(max(gib, 0.0) * 1024**3)


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())


def make_room(need: int, keep: str | None = None) -> list[str]:
    """Delete the least recently used seek copies until ``need`` more bytes fit in the
    budget; return the sha256s deleted. Copies being built and ``keep`` stay."""
    root = cache_root()
    if root is None or not root.is_dir():
        return []
    copies = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not folder.is_dir() or folder.name == keep:
            continue
        try:
            used = (folder / "manifest.json").stat().st_mtime
            copies.append((used, folder, _folder_bytes(folder)))
        except OSError:
            copies.append((0.0, folder, 0))  # no manifest: a broken leftover, first to go
    total, deleted = sum(size for _, _, size in copies), []
    for _, folder, size in sorted(copies, key=lambda c: c[0]):
        if total + need <= budget_bytes():
            break
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
        deleted.append(folder.name)
    return deleted


def frame_digest(image: np.ndarray) -> str:
    """BLAKE2b-128 of a frame's BGR bytes (what the copy must give back)."""
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest()


def _folder(sha256: str) -> Path:
    root = cache_root()
    if root is None:
        raise SeekCopyError(f"seek copies are switched off (${CACHE_ENV}=off)")
    return root / sha256


def build(
    source: str | Path,
    sha256: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Path:
    """Build the seek copy of ``source``; return its folder.

    The copy is written under a temporary name and renamed into place only after every
    frame decoded back from it matched the original's digest; an interrupted or failed
    build leaves nothing behind. ``progress(done, total)`` counts both passes.
    """
    source = Path(source)
    sha = sha256 or sha256_file(source)
    folder = _folder(sha)
    work = folder.with_name(f".{sha}.{os.getpid()}.building")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    try:
        with VideoReader(source) as reader:
            total = len(reader)
            dropped = make_room(estimated_bytes(reader), keep=sha)
            if dropped:
                log.info("seek cache: %d least recently used copies deleted", len(dropped))
            timestamps = reader.timestamps()
            digests = _write(reader, work / "copy.mp4", total, progress, cancel)
        _check_written(work / "copy.mp4", digests, total, progress, cancel)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "source_sha256": sha,
            "frame_count": total,
            "options": _OPTIONS,
            "gop": GOP,
            "timestamps": timestamps,
            "digests": digests,
            "copy_sha256": sha256_file(work / "copy.mp4"),
            "build_s": round(time.perf_counter() - started, 2),
        }
        (work / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info("seek copy of %s built in %.1f s", source.name, time.perf_counter() - started)
    return folder


def _write(
    reader: VideoReader,
    target: Path,
    total: int,
    progress: Callable[[int, int], None] | None,
    cancel: Callable[[], bool] | None,
) -> list[str]:
    """Encode every frame losslessly; return the digests of the original frames (BGR).

    A stream in a planar YUV format x264 codes losslessly is copied plane for plane (a third
    of the bytes of BGR; its BGR comes back identical because the colour tags are copied
    too, which the check pass proves); anything else is copied as BGR.
    """
    info = reader.info
    digests: list[str] = []
    with av.open(str(target), "w", format=_CONTAINER) as out:
        stream: Any = None
        for picture in reader.pictures():
            if cancel is not None and cancel():
                raise SeekCopyError("seek copy cancelled")
            if picture.index != len(digests) or picture.damaged:
                raise SeekCopyError(
                    f"frame {picture.index} of the evidence is missing or damaged: no seek copy"
                )
            frame = picture.frame()
            digests.append(frame_digest(frame.image))
            raw = picture.raw
            if stream is None:
                same = raw.format.name in _YUV
                stream = out.add_stream("libx264" if same else "libx264rgb", rate=25)
                stream.width, stream.height = info.width, info.height
                stream.pix_fmt = raw.format.name if same else "bgr24"
                stream.options = dict(_OPTIONS)
                if same:
                    stream.codec_context.colorspace = raw.colorspace
                    stream.codec_context.color_range = raw.color_range
            if stream.pix_fmt == "bgr24":
                raw = av.VideoFrame.from_ndarray(frame.image, format="bgr24")
            raw.pts, raw.time_base = picture.index, _TIME_BASE
            for packet in stream.encode(raw):
                out.mux(packet)
            if progress is not None:
                progress(len(digests), 2 * total)
        if stream is not None:
            for packet in stream.encode(None):
                out.mux(packet)
    if len(digests) != total:
        raise SeekCopyError(f"only {len(digests)} of {total} frames decoded: no seek copy")
    return digests


def _check_written(
    path: Path,
    digests: list[str],
    total: int,
    progress: Callable[[int, int], None] | None,
    cancel: Callable[[], bool] | None,
) -> None:
    count = 0
    with VideoReader(path) as copy:
        for frame in copy.frames():
            if cancel is not None and cancel():
                raise SeekCopyError("seek copy cancelled")
            if frame.index >= total or frame_digest(frame.image) != digests[frame.index]:
                raise SeekCopyError(f"the copy's frame {frame.index} is not the evidence's")
            count += 1
            if progress is not None:
                progress(total + count, 2 * total)
    if count != total:
        raise SeekCopyError(f"the copy holds {count} of {total} frames")


@dataclass(frozen=True)
class _Manifest:
    timestamps: list[float]
    digests: list[str]
    copy_sha256: str


class SeekCopy:
    """Random reads of an evidence file's frames from its seek copy, each one verified.

    One instance belongs to one thread (it owns a decoder). :meth:`read` raises
    :class:`SeekCopyError` when the copy's frame is not the evidence's; the caller then
    stops using the copy and decodes the evidence.
    """

    def __init__(
        self, sha256: str, frame_count: int, verify_file: bool = True, threads: bool = False
    ) -> None:
        folder = _folder(sha256)
        try:
            data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SeekCopyError(f"no usable seek copy for {sha256[:12]}: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SeekCopyError(f"{folder}: not a seek copy manifest")
        if data.get("version") != VERSION:
            raise SeekCopyError(f"{folder}: seek copy version {data.get('version')} unknown")
        if data.get("source_sha256") != sha256 or data.get("frame_count") != frame_count:
            raise SeekCopyError(f"{folder}: the seek copy belongs to another video")
        try:
            self._manifest = _Manifest(
                [float(t) for t in data["timestamps"]],
                [str(d) for d in data["digests"]],
                str(data["copy_sha256"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SeekCopyError(f"{folder}: damaged seek copy manifest ({error})") from None
        counts = {len(self._manifest.digests), len(self._manifest.timestamps)}
        if counts != {frame_count}:
            raise SeekCopyError(f"{folder}: the manifest does not cover every frame")
        path = folder / "copy.mp4"
        with contextlib.suppress(OSError):  # "recently used", for make_room
            os.utime(folder / "manifest.json")
        if verify_file and sha256_file(path) != self._manifest.copy_sha256:
            raise SeekCopyError(f"{path}: altered or damaged since it was built")
        try:
            self._reader = VideoReader(path, threads=threads)
        except ForensicsError as error:
            raise SeekCopyError(str(error)) from None
        if len(self._reader) != frame_count:
            self._reader.close()
            raise SeekCopyError(f"{path}: holds {len(self._reader)} of {frame_count} frames")
        self.path = path

    def read(self, index: int) -> Frame:
        """Frame ``index`` of the evidence, from the copy, checked against its digest."""
        frame = self._reader.read(index)
        if frame_digest(frame.image) != self._manifest.digests[index]:
            raise SeekCopyError(f"{self.path}: frame {index} does not match the evidence")
        return Frame(index, self._manifest.timestamps[index], frame.image, False)

    def close(self) -> None:
        """Release the copy's file."""
        self._reader.close()


__all__ = [
    "CACHE_ENV",
    "SeekCopy",
    "SeekCopyError",
    "build",
    "budget_bytes",
    "cache_root",
    "frame_digest",
    "longest_gop",
    "make_room",
    "worth_copying",
]
