"""The Grants view: every grant of the workspace, active, expired or revoked, with Revoke.

Until now a grant could be withdrawn only with the CLI's ``revoke``; a supervisor who learns
that a warrant was quashed must be able to do it where they approved it. Revoking calls the
core ``revoke`` (the same as the CLI), which checks the role and logs the decision (or the
refusal); the button being enabled is only a convenience.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from forensics_app.core.custody.unlock import (
    UnlockGrant,
    grant_status,
    list_grants,
    revocation,
    revoke,
)
from forensics_app.core.roi_tracks import track_words
from forensics_app.errors import ForensicsError
from forensics_app.gui.context import AppContext

COLUMNS = ("grant", "case", "frames", "analyst", "approved by", "issued", "expires", "status")
STATUS_COLOURS = {"active": "#1e8449", "expired": "#7f8c8d", "revoked": "#c0392b"}
SHOW = ("all", "active", "expired", "revoked")


class GrantsDialog(QDialog):
    """List grants with their status; a supervisor or admin revokes one with a reason."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Grants")
        self.context = context
        self.rows: list[tuple[UnlockGrant, str, dict | None]] = []
        self.shown: list[tuple[UnlockGrant, str, dict | None]] = []
        self.last_revocation: dict | None = None
        self.show_combo = QComboBox()
        self.show_combo.addItems(SHOW)
        self.show_combo.currentTextChanged.connect(lambda _t: self._fill())
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("reason for revoking (required; written to the log)")
        self.reason_edit.textChanged.connect(self._update_buttons)
        self.revoke_button = QPushButton("Revoke")
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #c0392b; font-weight: bold;")
        top = QHBoxLayout()
        top.addWidget(QLabel("show"))
        top.addWidget(self.show_combo)
        top.addStretch(1)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        top.addWidget(refresh)
        revoke_row = QHBoxLayout()
        revoke_row.addWidget(self.reason_edit, 1)
        revoke_row.addWidget(self.revoke_button)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(revoke_row)
        layout.addWidget(self.note)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        context.data_changed.connect(self.reload)
        self.reload()
        self.resize(1000, 480)

    def reload(self) -> None:
        """Read every grant and its status again (a revocation may come from elsewhere)."""
        ws = self.context.ws
        if ws is None:
            self.rows = []
        else:
            now = datetime.now(UTC)
            self.rows = [
                (g, grant_status(ws, g, now), revocation(ws, g.id)) for g in list_grants(ws)
            ]
            self.rows.sort(key=lambda row: row[0].issued, reverse=True)
        self._fill()

    def _fill(self) -> None:
        selected = self.selected_grant
        show = self.show_combo.currentText()
        self.shown = [row for row in self.rows if show in ("all", row[1])]
        self.table.setRowCount(len(self.shown))
        for r, (grant, status, _revoked) in enumerate(self.shown):
            a, b = grant.frames
            scope = f"{a}–{b}" + (
                ""
                if grant.tracks is None
                else " · " + track_words(grant.tracks, grant.track_origin)
            )
            values = (grant.id, grant.case_id, scope, grant.requester, grant.approver,
                      grant.issued[:19], grant.expires[:19], status)  # fmt: skip
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c == len(values) - 1:
                    item.setForeground(QColor(STATUS_COLOURS[status]))
                self.table.setItem(r, c, item)
        for r, (grant, _s, _v) in enumerate(self.shown):
            if selected is not None and grant.id == selected.id:
                self.table.selectRow(r)
        self._show_selected()

    @property
    def selected_grant(self) -> UnlockGrant | None:
        row = self.table.currentRow() if self.table.selectedItems() else -1
        return self.shown[row][0] if 0 <= row < len(self.shown) else None

    def select_grant(self, grant_id: str) -> bool:
        """Select the row of ``grant_id`` (the approval dialog and tests use this)."""
        for r, (grant, _s, _v) in enumerate(self.shown):
            if grant.id == grant_id:
                self.table.selectRow(r)
                return True
        return False

    def _show_selected(self) -> None:
        row = next((row for row in self.shown if row[0] is self.selected_grant), None)
        if row is None:
            self.details.setText(f"{len(self.shown)} of {len(self.rows)} grants shown.")
        else:
            grant, status, revoked = row
            text = (
                f"<b>{grant.id}</b> answers {grant.request_id} · why: {grant.doc.get('reason', '')}"
                f" · authority: {grant.doc.get('authority', '')}"
            )
            if grant.doc.get("approval_reason"):
                text += f"<br>{grant.approver}'s reason: {grant.doc['approval_reason']}"
            if revoked is not None:
                text += (
                    f"<br><span style='color:#c0392b'>revoked by {revoked.get('by', '?')} at "
                    f"{str(revoked.get('time', ''))[:19]}: {revoked.get('reason') or '(no reason)'}"
                    "</span>"
                )
            self.details.setText(text)
        self._update_buttons()

    def _refusal(self) -> str:
        """Why the selected grant cannot be revoked by this user ("" when it can)."""
        session, selected = self.context.session, self.selected_grant
        if selected is None:
            return "select a grant"
        if session is None:
            return "log in first"
        if session.role not in ("supervisor", "admin"):
            return f"{session.name} is a {session.role}; only a supervisor or admin revokes"
        status = next(s for g, s, _v in self.shown if g is selected)
        if status == "revoked":
            return f"{selected.id} is already revoked"
        return ""

    def _update_buttons(self) -> None:
        refusal = self._refusal()
        has_reason = bool(self.reason_edit.text().strip())
        self.revoke_button.setEnabled(not refusal and has_reason)
        self.revoke_button.setToolTip(refusal or ("" if has_reason else "enter a reason"))

    def revoke_selected(self) -> None:
        """Withdraw the selected grant (core ``revoke``); a refusal is shown, not raised."""
        grant = self.selected_grant
        if grant is None:
            return
        try:
            self.last_revocation = revoke(
                self.context.require_workspace(),
                self.context.require_session(),
                grant.id,
                self.reason_edit.text(),
            )
        except ForensicsError as error:
            self.note.setText(str(error))
            return
        self.note.setText("")
        self.reason_edit.clear()
        self.context.data_changed.emit()  # reloads this view and the reveal panel
