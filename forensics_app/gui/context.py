"""What the window is working on: the open workspace, the logged-in user, the case.

The context holds one :class:`~forensics_app.core.custody.workspace.Workspace` for quick
reads in the UI thread; work that takes time (login's key derivation, hashing, log
verification, reveal) runs on a worker that opens its own connection with
:meth:`AppContext.worker_workspace` (SQLite connections belong to one thread; WAL lets
them run side by side). Every action is a core custody function, as in the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from forensics_app.core.custody.users import UserSession
from forensics_app.core.custody.workspace import Workspace
from forensics_app.errors import AuthError, InputError


class AppContext(QObject):
    """The open workspace and user session, with change signals for the widgets."""

    workspace_changed = Signal()
    user_changed = Signal()
    data_changed = Signal()  # cases, evidence, requests, grants or the log changed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ws: Workspace | None = None
        self.root: Path | None = None
        self.session: UserSession | None = None

    # -- workspace -------------------------------------------------------------------
    def open_workspace(self, root: Path, create: bool = False) -> None:
        """Open (or create) the workspace at ``root``; logs out the current user."""
        ws = Workspace.open(Path(root), create=create)
        self.close_workspace()
        self.ws, self.root = ws, Path(root)
        self.workspace_changed.emit()
        self.data_changed.emit()

    def close_workspace(self) -> None:
        self.logout()
        if self.ws is not None:
            self.ws.close()
            self.ws, self.root = None, None
            self.workspace_changed.emit()

    def require_workspace(self) -> Workspace:
        if self.ws is None:
            raise InputError("open a workspace first (File ▸ Open workspace)")
        return self.ws

    @contextmanager
    def worker_workspace(self) -> Iterator[Workspace]:
        """A connection of its own for a worker thread (close it on exit)."""
        if self.root is None:
            raise InputError("open a workspace first (File ▸ Open workspace)")
        ws = Workspace.open(self.root)
        try:
            yield ws
        finally:
            ws.close()

    # -- user ------------------------------------------------------------------------
    def set_session(self, session: UserSession) -> None:
        """Make ``session`` (from a login on a worker) the current user."""
        if self.session is not None and self.session is not session:
            self.session.close()
        self.session = session
        self.user_changed.emit()
        self.data_changed.emit()

    def logout(self) -> None:
        """Drop the user's private keys from memory."""
        if self.session is not None:
            self.session.close()
            self.session = None
            self.user_changed.emit()

    def require_session(self, role: str | None = None) -> UserSession:
        if self.session is None:
            raise AuthError("log in first (File ▸ Log in)")
        if role is not None and self.session.role != role:
            raise AuthError(f"{self.session.name} is a {self.session.role}; this needs a {role}")
        return self.session

    @property
    def user_text(self) -> str:
        if self.session is None:
            return "not logged in"
        return f"{self.session.name} ({self.session.role})"
