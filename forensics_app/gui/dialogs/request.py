"""The unlock request dialog (analyst): scope, reason, legal authority, duration.

It files the request with the same ``create_request`` the CLI uses and shows, before
anything is signed, the audit entry that will be written.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from forensics_app.core.custody.cases import EvidenceRecord
from forensics_app.core.custody.unlock import UnlockRequest, create_request, parse_duration
from forensics_app.errors import ForensicsError
from forensics_app.gui.context import AppContext

DURATIONS = ("1h", "4h", "8h", "24h", "3d", "7d")


class RequestDialog(QDialog):
    """Ask a supervisor to unlock the reconstruction of a frame range."""

    def __init__(
        self,
        context: AppContext,
        record: EvidenceRecord,
        frame_count: int,
        frames: tuple[int, int],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Request an unlock")
        self.context = context
        self.record = record
        self.request: UnlockRequest | None = None
        session = context.require_session()
        self.first_spin, self.last_spin = QSpinBox(), QSpinBox()
        for spin, value in ((self.first_spin, frames[0]), (self.last_spin, frames[1])):
            spin.setRange(0, max(0, frame_count - 1))
            spin.setValue(value)
            spin.valueChanged.connect(self._update_preview)
        frames_row = QHBoxLayout()
        frames_row.addWidget(self.first_spin)
        frames_row.addWidget(QLabel("to"))
        frames_row.addWidget(self.last_spin)
        self.count_label = QLabel()
        frames_row.addWidget(self.count_label, 1)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setPlaceholderText("Why the faces in these frames must be seen")
        self.reason_edit.setFixedHeight(70)
        self.reason_edit.textChanged.connect(self._update_preview)
        self.authority_edit = QLineEdit()
        self.authority_edit.setPlaceholderText("e.g. warrant 2026/117, prosecutor's order …")
        self.authority_edit.textChanged.connect(self._update_preview)
        self.duration_combo = QComboBox()
        self.duration_combo.setEditable(True)
        self.duration_combo.addItems(DURATIONS)
        self.duration_combo.setCurrentText("24h")
        self.duration_combo.currentTextChanged.connect(self._update_preview)
        form = QFormLayout()
        form.addRow("Requester", QLabel(f"{session.name} ({session.role})"))
        form.addRow("Case", QLabel(record.case_id))
        evidence = QLabel(f"{Path(record.path).name}<br><tt>{record.sha256}</tt>")
        form.addRow("Evidence", evidence)
        form.addRow("Frames", frames_row)
        form.addRow("Reason", self.reason_edit)
        form.addRow("Legal authority", self.authority_edit)
        form.addRow("Duration", self.duration_combo)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setStyleSheet("font-family: monospace; font-size: 9pt;")
        logged = QGroupBox("This will be signed by you and written to the audit log")
        box = QVBoxLayout(logged)
        box.addWidget(self.preview)
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.submit_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.submit_button.setText("Sign and file request")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(logged)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(640, 520)
        self._update_preview()

    @property
    def frames(self) -> tuple[int, int]:
        return self.first_spin.value(), self.last_spin.value()

    def _duration_s(self) -> int | None:
        try:
            return parse_duration(self.duration_combo.currentText())
        except ForensicsError:
            return None

    def _update_preview(self) -> None:
        a, b = self.frames
        self.count_label.setText(f"({b - a + 1} frames)" if b >= a else "(empty range)")
        session = self.context.session
        reason = " ".join(self.reason_edit.toPlainText().split()) or "…"
        authority = self.authority_edit.text().strip() or "…"
        duration = self._duration_s()
        self.preview.setText(
            f"action: request · actor: {session.name if session else '?'} "
            f"({session.role if session else '?'})<br>"
            f"case: {self.record.case_id} · object: request:REQ-… (signed)<br>"
            f"justification: {reason} [authority: {authority}]<br>"
            f"evidence_sha256: {self.record.sha256[:16]}… · frames: [{a}, {b}] · "
            f"duration_s: {duration if duration is not None else 'invalid'}"
        )
        ok = b >= a and reason != "…" and authority != "…" and duration is not None
        self.submit_button.setEnabled(ok)

    def submit(self) -> None:
        """Sign and store the request (core ``create_request``); errors stay in the dialog."""
        duration = self._duration_s()
        try:
            if duration is None:
                raise ForensicsError("duration must look like 30m, 24h or 7d")
            self.request = create_request(
                self.context.require_workspace(),
                self.context.require_session(),
                self.record.case_id,
                self.record.sha256,
                self.frames,
                self.reason_edit.toPlainText(),
                self.authority_edit.text(),
                duration,
            )
        except ForensicsError as error:
            self.error_label.setText(str(error))
            return
        self.context.data_changed.emit()
        self.accept()
