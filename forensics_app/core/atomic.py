"""Atomic file writes: a reader sees the old file or the whole new one, never half of it.

Every file the program replaces (models, cards, checkpoints, sealed models, reports,
anchors, caches) goes through :func:`atomic_open`: the bytes are written to a temporary
file with a unique name in the destination's folder (so ``os.replace`` is one rename on one
file system, and two writers never share a temporary file), flushed and fsynced, given
their final permissions, then moved into place. On any error the temporary file is removed
and the old file is left untouched; the error (an ``OSError`` for I/O) goes to the caller,
who translates it into the project's own error at its boundary.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

PRIVATE = 0o600
"""Owner-only: checkpoints, reports and anything that may hold case data."""

PUBLIC = 0o644
"""Readable like any other file: released weights, model cards, caches."""


@contextmanager
def atomic_open(
    path: str | Path, mode: int = PRIVATE, *, prefix: str | None = None
) -> Iterator[BinaryIO]:
    """A binary handle whose contents replace ``path`` when the ``with`` block ends cleanly.

    ``mode`` is the new file's permission bits. ``prefix`` names the temporary file
    (default ``.<name>.``) for callers that sweep up leftovers of a killed run by prefix.
    The folder must exist; an exception inside the block or while writing leaves ``path``
    as it was and removes the temporary file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=prefix if prefix is not None else f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(
    path: str | Path, data: bytes, mode: int = PRIVATE, *, prefix: str | None = None
) -> None:
    """Replace ``path`` with ``data`` in one step (see :func:`atomic_open`)."""
    with atomic_open(path, mode, prefix=prefix) as handle:
        handle.write(data)
