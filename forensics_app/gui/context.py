"""What the window is working on: the open workspace, the logged-in user, the case.

The context holds one :class:`~forensics_app.core.custody.workspace.Workspace` for quick
reads in the UI thread; work that takes time (login's key derivation, hashing, log
verification, reveal) runs on a worker that opens its own connection with
:meth:`AppContext.worker_workspace` (SQLite connections belong to one thread; WAL lets
them run side by side). Every action is a core custody function, as in the CLI.

A workspace whose store is a PostgreSQL server opens the same way (its folder points at the
database). When the server wants a password that libpq's ``~/.pgpass`` or service file does
not give, :attr:`AppContext.ask_db_password` (set by the window: a password dialog) is asked
once; the answer stays in memory for the workers' connections and is dropped on close.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from forensics_app.core.custody.store_postgres import DatabasePasswordRequired
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
        #: Asked (with the one-line reason) for a database password; None: cancelled.
        self.ask_db_password: Callable[[str], str | None] | None = None
        self._db_password: str | None = None

    # -- workspace -------------------------------------------------------------------
    def open_workspace(self, root: Path, create: bool = False) -> None:
        """Open (or create) the workspace at ``root``; logs out the current user."""
        password = None
        try:
            ws = Workspace.open(Path(root), create=create)
        except DatabasePasswordRequired as error:
            if self.ask_db_password is None:
                raise
            password = self.ask_db_password(str(error))
            if password is None:
                raise InputError("no database password given; the workspace stays closed") from None
            ws = Workspace.open(Path(root), create=create, password=password)
        self.close_workspace()
        self.ws, self.root, self._db_password = ws, Path(root), password
        self.workspace_changed.emit()
        self.data_changed.emit()

    def close_workspace(self) -> None:
        self.logout()
        if self.ws is not None:
            self.ws.close()
            self.ws, self.root, self._db_password = None, None, None
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
        ws = self.connect()
        try:
            yield ws
        finally:
            ws.close()

    @property
    def db_password(self) -> str | None:
        """The database password the user typed for this workspace (memory only), or None."""
        return self._db_password

    def connect(self) -> Workspace:
        """Open another connection to the current workspace (for a worker thread), with
        the database password the user gave, if any."""
        if self.root is None:
            raise InputError("open a workspace first (File ▸ Open workspace)")
        return Workspace.open(self.root, password=self._db_password)

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
