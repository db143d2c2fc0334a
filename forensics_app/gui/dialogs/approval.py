"""The approval dialog (supervisor): the request, who asked, the public frames in scope,
approve with an expiry or deny with a reason.

Self-approval is impossible twice over: the Approve button is disabled when the request is
the user's own (or the user is not a supervisor), and the core ``approve`` refuses anyway.
"""

from __future__ import annotations

from pathlib import Path

import cv2
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from forensics_app.core.custody.cases import get_evidence
from forensics_app.core.custody.unlock import (
    RequestInfo,
    UnlockGrant,
    approve,
    deny,
    list_requests,
    parse_duration,
)
from forensics_app.errors import ForensicsError
from forensics_app.gui.context import AppContext
from forensics_app.gui.frame_source import bgr_to_qimage
from forensics_app.gui.workers import TaskRunner

EXPIRIES = ("requested", "1h", "4h", "8h", "24h", "3d", "7d")
THUMB_WIDTH = 210


def scope_thumbnails(
    path: Path, frames: tuple[int, int], count: int = 3
) -> list[tuple[int, object]]:
    """Public frames at the start, middle and end of the scope, with their ROI boxes drawn."""
    from forensics_app.core.video import VideoReader
    from forensics_app.gui.scan import mark_frame

    a, b = frames
    picks = sorted({a, (a + b) // 2, b})[:count]
    out = []
    with VideoReader(path) as reader:
        for index in picks:
            if index >= len(reader):
                continue
            image = reader.read(index).image.copy()
            for x, y, w, h in mark_frame(index, image).boxes:
                cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), (0, 196, 255), 2)
            scale = THUMB_WIDTH / image.shape[1]
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            out.append((index, bgr_to_qimage(small)))
    return out


class ApprovalDialog(QDialog):
    """Review pending unlock requests and approve or deny them."""

    def __init__(
        self, context: AppContext, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review unlock requests")
        self.context = context
        self.runner = runner
        self.grant: UnlockGrant | None = None
        self.denial: dict | None = None
        self.request_list = QListWidget()
        self.request_list.setMaximumWidth(260)
        self.request_list.currentRowChanged.connect(self._show_request)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.thumbs = QHBoxLayout()
        thumbs_box = QGroupBox("Public frames in scope (ROIs from the hidden messages)")
        thumbs_box.setLayout(self.thumbs)
        self.expiry_combo = QComboBox()
        self.expiry_combo.setEditable(True)
        self.expiry_combo.addItems(EXPIRIES)
        self.approve_button = QPushButton("Approve")
        self.approve_button.clicked.connect(self.approve_selected)
        self.deny_reason = QLineEdit()
        self.deny_reason.setPlaceholderText("reason for denial (required)")
        self.deny_reason.textChanged.connect(self._update_buttons)
        self.deny_button = QPushButton("Deny")
        self.deny_button.clicked.connect(self.deny_selected)
        self.note = QLabel("")
        self.note.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.note.setWordWrap(True)
        decide = QFormLayout()
        approve_row = QHBoxLayout()
        approve_row.addWidget(QLabel("expires after"))
        approve_row.addWidget(self.expiry_combo)
        approve_row.addWidget(self.approve_button)
        deny_row = QHBoxLayout()
        deny_row.addWidget(self.deny_reason, 1)
        deny_row.addWidget(self.deny_button)
        decide.addRow("Approve", approve_row)
        decide.addRow("Deny", deny_row)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        right = QVBoxLayout()
        right.addWidget(self.details)
        right.addWidget(thumbs_box)
        right.addLayout(decide)
        right.addWidget(self.note)
        right.addStretch(1)
        right.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        layout = QHBoxLayout(self)
        layout.addWidget(self.request_list)
        layout.addLayout(right, 1)
        self.infos: list[RequestInfo] = []
        self.thumb_task = None
        self.reload()
        self.resize(980, 560)

    def reload(self) -> None:
        self.infos = [
            i for i in list_requests(self.context.require_workspace()) if i.status == "pending"
        ]
        self.request_list.clear()
        for info in self.infos:
            r = info.request
            QListWidgetItem(
                f"{r.id}\n{r.requester} · {r.case_id} · frames {r.frames[0]}–{r.frames[1]}",
                self.request_list,
            )
        if self.infos:
            self.request_list.setCurrentRow(0)
        else:
            self.details.setText("No pending requests.")
            self._update_buttons()

    @property
    def selected(self) -> RequestInfo | None:
        row = self.request_list.currentRow()
        return self.infos[row] if 0 <= row < len(self.infos) else None

    def _show_request(self, row: int) -> None:
        info = self.selected
        if info is None:
            return
        r = info.request
        self.details.setText(
            f"<b>{r.id}</b> — filed {r.created[:19]} UTC<br>"
            f"requester: <b>{r.requester}</b> (analyst) · case <b>{r.case_id}</b><br>"
            f"evidence sha256 <tt>{r.evidence_sha256}</tt><br>"
            f"frames <b>{r.frames[0]}–{r.frames[1]}</b> ({r.frames[1] - r.frames[0] + 1} frames) · "
            f"requested duration {r.duration_s // 3600} h {r.duration_s % 3600 // 60} min<br>"
            f"reason: {r.reason}<br>legal authority: <b>{r.authority}</b>"
        )
        self._load_thumbs(info)
        self._update_buttons()

    def _load_thumbs(self, info: RequestInfo) -> None:
        while self.thumbs.count():
            item = self.thumbs.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        try:
            record = get_evidence(
                self.context.require_workspace(), info.request.case_id, info.request.evidence_sha256
            )
        except ForensicsError as error:
            self.thumbs.addWidget(QLabel(str(error)))
            return
        path, frames = Path(record.path), info.request.frames
        self.thumb_task = self.runner.start(
            "loading frames in scope", lambda p, c: scope_thumbnails(path, frames)
        )
        self.thumb_task.signals.result.connect(self._show_thumbs)
        self.thumb_task.signals.error.connect(lambda text: self.thumbs.addWidget(QLabel(text)))

    def _show_thumbs(self, thumbs: list) -> None:
        for index, image in thumbs:
            label = QLabel()
            label.setPixmap(QPixmap.fromImage(image))
            label.setToolTip(f"frame {index}")
            column = QVBoxLayout()
            column.addWidget(label)
            column.addWidget(QLabel(f"frame {index}"), 0, Qt.AlignmentFlag.AlignHCenter)
            holder = QWidget()
            holder.setLayout(column)
            self.thumbs.addWidget(holder)

    def _update_buttons(self) -> None:
        info, session = self.selected, self.context.session
        reason = ""
        if info is None:
            reason = "no request selected"
        elif session is None:
            reason = "log in first"
        elif session.name == info.request.requester:
            reason = "You cannot approve or deny your own request (two-person rule)."
        elif session.role != "supervisor":
            reason = f"{session.name} is a {session.role}; only a supervisor may decide."
        allowed = not reason
        self.approve_button.setEnabled(allowed)
        self.deny_button.setEnabled(allowed and bool(self.deny_reason.text().strip()))
        self.approve_button.setToolTip(reason or "Sign a grant for this scope")
        self.note.setText(reason if info is not None else "")

    def _expiry_s(self, info: RequestInfo) -> int:
        text = self.expiry_combo.currentText().strip()
        return info.request.duration_s if text == "requested" else parse_duration(text)

    def approve_selected(self) -> None:
        """Sign a grant (core ``approve``); a refusal is shown, not raised."""
        info = self.selected
        if info is None:
            return
        try:
            self.grant = approve(
                self.context.require_workspace(),
                self.context.require_session(),
                info.request.id,
                expires_s=self._expiry_s(info),
            )
        except ForensicsError as error:
            self.note.setText(str(error))
            return
        self.context.data_changed.emit()
        self.accept()

    def deny_selected(self) -> None:
        info = self.selected
        if info is None:
            return
        try:
            self.denial = deny(
                self.context.require_workspace(),
                self.context.require_session(),
                info.request.id,
                self.deny_reason.text(),
            )
        except ForensicsError as error:
            self.note.setText(str(error))
            return
        self.context.data_changed.emit()
        self.accept()
