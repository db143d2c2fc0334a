"""Log in (or switch user): pick a user, type the passphrase; keys unlock on a worker."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from forensics_app.core.custody.users import UserSession, list_users, login
from forensics_app.gui.context import AppContext
from forensics_app.gui.workers import TaskRunner


def demo_hint(context: AppContext) -> str:
    """For the demo workspace (it has the ``.demo-ready`` marker), its users' passphrases,
    which are public by design; "" for any real workspace."""
    from forensics_app.demo import demo_passphrase

    root = context.root
    if root is None or not (root / ".demo-ready").is_file():
        return ""
    names = [u.name for u in list_users(context.require_workspace())]
    pairs = ", ".join(f"{n}: <tt>{demo_passphrase(n)}</tt>" for n in names)
    return f"<b>Demo workspace</b> — passphrases {pairs}"


class LoginDialog(QDialog):
    """Passphrase login; a wrong passphrase shows the one-line reason and unlocks nothing."""

    def __init__(
        self,
        context: AppContext,
        runner: TaskRunner,
        user: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Log in")
        self.context = context
        self.runner = runner
        self.session: UserSession | None = None
        self.user_combo = QComboBox()
        for record in list_users(context.require_workspace()):
            self.user_combo.addItem(f"{record.name} — {record.role}", record.name)
        if user is not None:
            self.user_combo.setCurrentIndex(max(0, self.user_combo.findData(user)))
        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_edit.setPlaceholderText("passphrase")
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.error_label.setWordWrap(True)
        self.status_label = QLabel(
            "Every login, and every failed attempt, is written to the audit log."
        )
        self.status_label.setStyleSheet("color: gray;")
        self.demo_label = QLabel(demo_hint(context))
        self.demo_label.setWordWrap(True)
        self.demo_label.setVisible(bool(self.demo_label.text()))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.login_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.login_button.setText("Log in")
        self.buttons.accepted.connect(self.try_login)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("User", self.user_combo)
        form.addRow("Passphrase", self.passphrase_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.demo_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.passphrase_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        self.task = None

    @property
    def user_name(self) -> str:
        return str(self.user_combo.currentData() or "")

    def try_login(self) -> None:
        """Derive the key and unlock the user's keys on a worker (the KDF takes ~0.4 s)."""
        name, passphrase = self.user_name, self.passphrase_edit.text()
        if not name:
            self.error_label.setText("this workspace has no users yet")
            return
        self.login_button.setEnabled(False)
        self.error_label.setText("")
        self.status_label.setText(f"unlocking the keys of {name}…")
        context = self.context

        def work(progress, cancel):
            with context.worker_workspace() as ws:
                return login(ws, name, passphrase)

        self.task = self.runner.start("login", work)
        self.task.signals.result.connect(self._on_session)
        self.task.signals.error.connect(self._on_error)

    def _on_session(self, session: UserSession) -> None:
        if not self.isVisible():  # cancelled while the keys were being unlocked
            session.close()
            return
        self.session = session
        self.passphrase_edit.clear()
        self.accept()

    def _on_error(self, text: str) -> None:
        self.passphrase_edit.clear()
        self.passphrase_edit.setFocus()
        self.login_button.setEnabled(True)
        self.status_label.setText("")
        self.error_label.setText(text)
