"""The one door to an evidence file: read-only binary access, below everything that reads media.

:func:`open_evidence` only opens for reading (``O_RDONLY``), so no code path can modify or
truncate evidence by accident. It sits at the bottom of the media stack — video reading and
writing (:mod:`~forensics_app.core.video`, :mod:`~forensics_app.core.video_writer`) and
evidence intake (:mod:`~forensics_app.core.evidence`) all open files through it — so those
modules import one way: intake → video → writer → this module.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from pathlib import Path

from forensics_app.errors import EvidenceError

_NOATIME = getattr(os, "O_NOATIME", 0)
_EXTRA_FLAGS = getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def open_evidence(path: str | os.PathLike[str], mode: str = "rb") -> io.BufferedReader:
    """Open an evidence file for reading; any mode other than ``"rb"`` is refused.

    The file descriptor itself is opened ``O_RDONLY`` (and ``O_NOATIME`` where the OS lets
    us, so even the access time is left alone), so the returned object cannot write.
    """
    if mode != "rb":
        raise EvidenceError(f"evidence is read-only: mode {mode!r} refused for {path}")
    p = Path(path)
    if p.is_dir():
        raise EvidenceError(f"evidence {p} is a folder, not a file")
    with contextlib.suppress(OSError):  # missing files are reported by os.open below
        kind = os.stat(p).st_mode
        if stat.S_ISFIFO(kind) or stat.S_ISSOCK(kind) or stat.S_ISCHR(kind):
            raise EvidenceError(f"evidence {p} is a pipe, socket or device stream, not a file")
    flags = os.O_RDONLY | _EXTRA_FLAGS
    try:
        try:
            fd = os.open(p, flags | _NOATIME)
        except PermissionError:  # O_NOATIME needs ownership of the file; fall back
            fd = os.open(p, flags)
    except FileNotFoundError:
        raise EvidenceError(f"evidence file not found: {p}") from None
    except OSError as error:
        raise EvidenceError(f"cannot open evidence {p}: {error.strerror}") from None
    return io.BufferedReader(io.FileIO(fd, "rb", closefd=True), buffer_size=1 << 16)
