"""Per-user settings of the desktop app (recent workspaces), in an INI file.

The file lives under ``$XDG_CONFIG_HOME`` (or ``~/.config``) and the path is resolved on
every use, so tests that point HOME/XDG at a temporary folder never touch real settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 8


def settings_path() -> Path:
    """Where the settings file is: $FORENSICS_APP_SETTINGS, else the XDG config folder."""
    explicit = os.environ.get("FORENSICS_APP_SETTINGS")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "uunet-forensics" / "forensics-app.ini"


def settings() -> QSettings:
    """A QSettings object over the INI file of :func:`settings_path`."""
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


def recent_workspaces() -> list[Path]:
    """Recently opened workspaces, newest first, only those that still exist."""
    value = settings().value("recent/workspaces", [])
    items = [value] if isinstance(value, str) else list(value or [])
    return [Path(p) for p in items if p and Path(p).is_dir()]


def remember_workspace(path: Path) -> None:
    """Put ``path`` at the top of the recent list."""
    path = Path(path).resolve()
    items = [p for p in recent_workspaces() if p.resolve() != path]
    store = settings()
    store.setValue("recent/workspaces", [str(p) for p in [path, *items][:MAX_RECENT]])
    store.sync()
