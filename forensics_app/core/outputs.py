"""Private, all-or-nothing outputs: reconstructed faces, exports, the workspace itself.

What the custody core writes outside its database holds revealed identities or keys, so it
is created owner-only (folders 0700, files 0600) and built under a hidden ``.partial-…``
name that is moved into place in one step. A partial left by a killed process carries that
process's id in its name, and is removed by the next run that writes beside it once that
process is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new or existing file that only its owner can read (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, PRIVATE_FILE)  # an existing file keeps its mode through O_CREAT


def partial_dir(parent: Path, kind: str) -> Path:
    """A new owner-only folder ``.partial-KIND-PID-XXXX`` in ``parent`` to build output in."""
    return Path(tempfile.mkdtemp(prefix=f".partial-{kind}-{os.getpid()}-", dir=parent))


def partial_file(parent: Path, kind: str, suffix: str = "") -> tuple[int, Path]:
    """A new owner-only file ``.partial-KIND-PID-XXXX{suffix}`` in ``parent`` (fd, path)."""
    fd, name = tempfile.mkstemp(prefix=f".partial-{kind}-{os.getpid()}-", suffix=suffix, dir=parent)
    return fd, Path(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_partials(parent: Path, kind: str) -> list[Path]:
    """Remove the ``.partial-KIND-PID-…`` entries in ``parent`` whose process has ended.

    Returns what was removed. Partials of running processes (this one included) are kept.
    """
    removed: list[Path] = []
    try:
        entries = list(Path(parent).glob(f".partial-{kind}-*"))
    except OSError:
        return removed
    for entry in entries:
        pid_text = entry.name.removeprefix(f".partial-{kind}-").split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed


def tighten(path: Path, mode: int) -> None:
    """Narrow ``path``'s permissions to ``mode`` if they are wider (best effort: a file on
    read-only media or owned by someone else is left as it is)."""
    try:
        current = path.stat().st_mode & 0o777
        if current & ~mode:
            os.chmod(path, current & mode)
    except OSError:
        pass
