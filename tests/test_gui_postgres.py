"""The window on a PostgreSQL workspace (issue #18 item 5): opened by its folder like any other,
remembered in the recent list by that folder, and when the server wants a password libpq
cannot find, asked once in a password dialog and kept in memory only."""

from __future__ import annotations

from pathlib import Path

import pg_support
import pytest
from pg_support import APP, OWNER, PgServer
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

from forensics_app.core import custody as cu
from forensics_app.gui.main_window import MainWindow
from forensics_app.gui.settings import recent_workspaces


@pytest.fixture
def scram_server() -> PgServer:
    """A server of its own that wants SCRAM passwords over TCP."""
    server = pg_support.start_or_explain(host_auth="scram-sha-256")
    if isinstance(server, str):
        pg_support.unavailable(server)
    with server.admin() as conn:
        conn.execute(f"ALTER ROLE {OWNER} PASSWORD 'owner-secret'")
        conn.execute(f"ALTER ROLE {APP} PASSWORD 'app-secret'")
    yield server
    server.stop()


def _answer_password_dialog(text: str | None, asked: list[str]) -> None:
    """Type ``text`` into the password dialog once it is up and press OK (None: Cancel)."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QInputDialog):
            QTimer.singleShot(20, answer)
            return
        asked.append(dialog.labelText())
        assert dialog.textEchoMode() == QLineEdit.EchoMode.Password
        if text is None:
            dialog.reject()
        else:
            dialog.setTextValue(text)
            dialog.accept()

    QTimer.singleShot(0, answer)


def test_the_window_asks_once_for_the_database_password_and_stores_none(
    qtbot, tmp_path: Path, scram_server: PgServer
) -> None:
    root = tmp_path / "ws"
    url = scram_server.new_database()
    cu.Workspace.open(root, create=True, db=url, app_role=APP, password="owner-secret").close()
    window = MainWindow()
    qtbot.addWidget(window)

    asked: list[str] = []
    _answer_password_dialog(None, asked)  # Cancel: stays closed, one line
    assert window.open_workspace(root) is False
    assert "no database password given" in window.last_error
    assert len(asked) == 1 and "wants a password" in asked[0]

    _answer_password_dialog("app-secret", asked)
    assert window.open_workspace(root) is True
    assert len(asked) == 2
    assert window.context.require_workspace().store.user == APP
    with window.context.worker_workspace() as ws:  # a worker's connection, no second prompt
        assert ws.audit.verify()["entries"] == 0
    assert len(asked) == 2
    assert root in [Path(p) for p in recent_workspaces()]  # remembered by its folder
    stored = b"".join(p.read_bytes() for p in (tmp_path / "home").rglob("*") if p.is_file())
    stored += b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
    assert b"app-secret" not in stored
    window.context.close_workspace()
    assert window.context.db_password is None
