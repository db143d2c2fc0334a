"""Evidence intake: read-only access, streaming SHA-256 and a record of what was received.

Evidence is never written. :func:`open_evidence` (from :mod:`~forensics_app.core.readonly`,
re-exported here) is the one door to an evidence file and it only opens for reading
(``O_RDONLY``), so no code path can modify or truncate evidence by accident. :func:`ingest`
hashes a file in constant memory, checks that it did not change while it was read, and
records size, digest and media facts in an :class:`EvidenceRef`; :func:`verify_unchanged`
later proves the file is still the one that was received. Intake sits on top of the media
stack (readonly → video_writer → video → evidence), so nothing below imports it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forensics_app.core.readonly import open_evidence  # the door; importable from here too
from forensics_app.core.video import MediaInfo, probe
from forensics_app.errors import EvidenceError, OperationCancelled, VideoError

#: ``progress(bytes_done, bytes_total)``
ProgressFn = Callable[[int, int], None]
#: ``cancel() -> True`` stops a long operation with :class:`OperationCancelled`.
CancelFn = Callable[[], bool]


def sha256_file(
    path: str | os.PathLike[str],
    progress: ProgressFn | None = None,
    chunk_size: int = 1 << 20,
    cancel: CancelFn | None = None,
) -> str:
    """Hex SHA-256 of a file, streamed in ``chunk_size`` pieces (constant memory).

    ``progress(bytes_done, bytes_total)`` is called after every chunk; ``cancel()`` is
    polled as often and, when it returns True, :class:`OperationCancelled` is raised.
    """
    if chunk_size <= 0:
        raise EvidenceError(f"chunk size must be positive, got {chunk_size}")
    digest = hashlib.sha256()
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    with open_evidence(path) as handle:
        total = os.fstat(handle.fileno()).st_size
        done = 0
        if progress is not None:
            progress(0, total)
        while True:
            if cancel is not None and cancel():
                raise OperationCancelled(f"hashing {path} cancelled after {done} of {total} bytes")
            n = handle.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
            done += n
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


def utc_now_iso() -> str:
    """The current time as ISO 8601 in UTC with an explicit ``+00:00`` offset."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class EvidenceRef:
    """What was received: absolute path, size, SHA-256, media facts and intake time."""

    path: str
    size: int
    sha256: str
    media: MediaInfo | None
    ingested_at: str
    #: What intake noticed but did not refuse (e.g. a container that declares more frames
    #: than the file holds); kept with the record so the examiner sees it later too.
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``media`` is a dict or None)."""
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "media": None if self.media is None else self.media.to_dict(),
            "ingested_at": self.ingested_at,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvidenceRef:
        """Rebuild a reference from :meth:`to_dict` output; malformed data is an EvidenceError."""
        try:
            sha = str(data["sha256"]).lower()
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise ValueError(f"bad sha256 {sha!r}")
            stamp = str(data["ingested_at"])
            if datetime.fromisoformat(stamp).utcoffset() is None:
                raise ValueError(f"ingested_at {stamp!r} has no UTC offset")
            if int(data["size"]) < 0:
                raise ValueError(f"negative size {data['size']}")
            media = data.get("media")
            return cls(
                path=str(data["path"]),
                size=int(data["size"]),
                sha256=sha,
                media=None if media is None else MediaInfo.from_dict(media),
                ingested_at=stamp,
                warnings=tuple(str(w) for w in data.get("warnings") or ()),
            )
        except (KeyError, TypeError, ValueError, VideoError) as error:
            raise EvidenceError(f"malformed evidence record: {error}") from None


def _stat_key(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise EvidenceError(f"evidence file not found: {path}") from None
    except OSError as error:
        raise EvidenceError(f"cannot read evidence {path}: {error.strerror}") from None
    return st.st_size, st.st_mtime_ns


def ingest(
    path: str | os.PathLike[str],
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    require_video: bool = False,
) -> EvidenceRef:
    """Hash and probe an evidence file without writing it; record it as an EvidenceRef.

    A file that changes while it is being hashed is refused. A file that is not a video
    gets ``media=None`` unless ``require_video`` is set, in which case its VideoError is
    raised.
    """
    p = Path(path).resolve()
    if p.is_dir():
        raise EvidenceError(f"evidence {p} is a folder, not a file")
    before = _stat_key(p)
    digest = sha256_file(p, progress=progress, cancel=cancel)
    if _stat_key(p) != before:
        raise EvidenceError(f"evidence {p} changed while it was being hashed; intake refused")
    try:
        media: MediaInfo | None = probe(p)
    except VideoError:
        if require_video:
            raise
        media = None
    warnings = () if media is None else _length_warnings(p, media)
    return EvidenceRef(
        path=str(p),
        size=before[0],
        sha256=digest,
        media=media,
        ingested_at=utc_now_iso(),
        warnings=warnings,
    )


def _length_warnings(path: Path, media: MediaInfo) -> tuple[str, ...]:
    """Say so when the container's declared length is well past what the file holds.

    A Matroska file cut short keeps its header, so the packet scan finds only the frames
    that are left and reports no error; the header's duration × fps still shows the loss.
    """
    try:
        declared = probe(path, scan=False)
    except VideoError:
        return ()
    if declared.frame_count > media.frame_count * 1.05 + 2:
        return (
            f"{path.name}: the container declares about {declared.frame_count} frames "
            f"({declared.duration:.1f} s) but the file holds {media.frame_count}: truncated?",
        )
    return ()


def verify_unchanged(
    ref: EvidenceRef,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> None:
    """Raise EvidenceError unless the file at ``ref.path`` still has ``ref.sha256``."""
    p = Path(ref.path)
    if not p.is_file():
        raise EvidenceError(f"evidence {p} is missing (expected sha256 {ref.sha256})")
    actual = sha256_file(p, progress=progress, cancel=cancel)
    if actual != ref.sha256:
        raise EvidenceError(
            f"evidence {p} has changed since intake: expected sha256 {ref.sha256}, now {actual}"
        )
