"""Add a user (the first user of a new workspace is its admin; later ones need an admin)."""

from __future__ import annotations

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

from forensics_app.core.custody.users import ROLES, User, add_user, list_users
from forensics_app.errors import ForensicsError, InputError
from forensics_app.gui.context import AppContext


class UserDialog(QDialog):
    """Create a user with fresh keys through the core ``add_user`` (logged)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add user")
        self.context = context
        self.user: User | None = None
        self.first = not list_users(context.require_workspace())
        self.name_edit = QLineEdit()
        self.role_combo = QComboBox()
        self.role_combo.addItems(["admin"] if self.first else list(ROLES))
        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        note = (
            "This workspace has no users: its first user is its administrator."
            if self.first
            else "Only an administrator may add users; the addition is logged."
        )
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #c0392b; font-weight: bold;")
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Role", self.role_combo)
        form.addRow("Passphrase", self.passphrase_edit)
        form.addRow("Repeat", self.repeat_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(note))
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def submit(self) -> None:
        """Create the user (Argon2id key derivation: about half a second)."""
        try:
            if self.passphrase_edit.text() != self.repeat_edit.text():
                raise InputError("the two passphrases differ")
            self.user = add_user(
                self.context.require_workspace(),
                self.name_edit.text().strip(),
                self.role_combo.currentText(),
                self.passphrase_edit.text(),
                by=None if self.first else self.context.session,
            )
        except ForensicsError as error:
            self.error_label.setText(str(error))
            return
        finally:
            self.passphrase_edit.clear()
            self.repeat_edit.clear()
        self.context.data_changed.emit()
        self.accept()
