"""The approval dialog (supervisor): a decision, not a click.

It shows the request (who asked, why, under which authority, the frame range and public
thumbnails of the frames in scope), and approving or denying needs the supervisor's own
reason and their passphrase typed again. The passphrase is checked by the real custody
``login`` on a worker (a wrong one is a ``login_failed`` row and counts towards the
lock-out, exactly as at the login dialog), and the decision is signed with the keys that
login just unlocked. After an approval the dialog shows the new grant's id.

Self-approval is impossible twice over: the buttons are disabled when the request is the
user's own (or the user is not a supervisor), and the core ``approve`` refuses anyway.
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
    QPlainTextEdit,
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
from forensics_app.core.custody.users import get_user, login
from forensics_app.core.roi_tracks import track_words
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
    """Review pending unlock requests; approve or deny each with a reason and passphrase."""

    def __init__(
        self, context: AppContext, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review unlock requests")
        self.context = context
        self.runner = runner
        self.grant: UnlockGrant | None = None
        self.denial: dict | None = None
        self.decision_task = None
        self.request_list = QListWidget()
        self.request_list.setMaximumWidth(260)
        self.request_list.setMinimumWidth(220)  # request ids readable in full
        self.request_list.currentRowChanged.connect(self._show_request)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.thumbs = QHBoxLayout()
        thumbs_box = QGroupBox("Public frames in scope (ROIs from the hidden messages)")
        thumbs_box.setLayout(self.thumbs)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setPlaceholderText(
            "your reason for this decision (required; signed and written to the audit log)"
        )
        self.reason_edit.setMaximumHeight(64)
        self.reason_edit.textChanged.connect(self._update_buttons)
        self.expiry_combo = QComboBox()
        self.expiry_combo.setEditable(True)
        self.expiry_combo.addItems(EXPIRIES)
        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_edit.setPlaceholderText("your passphrase, typed again")
        self.passphrase_edit.textChanged.connect(self._update_buttons)
        self.approve_button = QPushButton("Approve")
        self.approve_button.clicked.connect(self.approve_selected)
        self.deny_button = QPushButton("Deny")
        self.deny_button.clicked.connect(self.deny_selected)
        self.note = QLabel("")
        self.note.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.note.setWordWrap(True)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        decide_box = QGroupBox("Your decision")
        decide = QFormLayout(decide_box)
        decide.addRow("Reason", self.reason_edit)
        decide.addRow("Grant expires after", self.expiry_combo)
        decide.addRow("Passphrase", self.passphrase_edit)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.deny_button)
        buttons.addWidget(self.approve_button)
        decide.addRow(buttons)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        right = QVBoxLayout()
        right.addWidget(self.details)
        right.addWidget(thumbs_box)
        right.addWidget(decide_box)
        right.addWidget(self.note)
        right.addWidget(self.result_label)
        right.addStretch(1)
        right.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        layout = QHBoxLayout(self)
        layout.addWidget(self.request_list)
        layout.addLayout(right, 1)
        self.infos: list[RequestInfo] = []
        self.thumb_task = None
        self.reload()
        self.resize(980, 640)

    def reload(self) -> None:
        """List the pending requests again (after a decision here or elsewhere)."""
        self.infos = [
            i for i in list_requests(self.context.require_workspace()) if i.status == "pending"
        ]
        self.request_list.clear()
        for info in self.infos:
            r = info.request
            QListWidgetItem(
                f"{r.id}\n{r.requester} · {r.case_id} · frames {r.frames[0]}–{r.frames[1]}"
                + ("" if r.tracks is None else " · " + track_words(r.tracks, r.track_origin)),
                self.request_list,
            )
        if self.infos:
            self.request_list.setCurrentRow(0)
        else:
            self.details.setText("No pending requests.")
            self._clear_thumbs()
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
        try:
            role = get_user(self.context.require_workspace(), r.requester).role
        except ForensicsError:
            role = "unknown user"
        self.details.setText(
            f"<b>{r.id}</b> — filed {r.created[:19]} UTC<br>"
            f"requested by <b>{r.requester}</b> ({role}) · case <b>{r.case_id}</b><br>"
            f"evidence sha256 <tt>{r.evidence_sha256}</tt><br>"
            f"frames <b>{r.frames[0]}–{r.frames[1]}</b> ({r.frames[1] - r.frames[0] + 1} frames) · "
            f"requested duration {r.duration_s // 3600} h {r.duration_s % 3600 // 60} min<br>"
            + (
                "faces: <b>every face in these frames</b><br>"
                if r.tracks is None
                else f"faces: <b>{track_words(r.tracks, r.track_origin)} only</b> (boxes "
                f"linked across frames from frame {r.track_origin}"
                f"{', the numbers of the lanes' if r.track_origin == 0 else ''}; no other face "
                "is reconstructed)<br>"
            )
            + f"why: {r.reason}<br>legal authority: <b>{r.authority}</b>"
        )
        self._load_thumbs(info)
        self._update_buttons()

    def _clear_thumbs(self) -> None:
        while self.thumbs.count():
            item = self.thumbs.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _load_thumbs(self, info: RequestInfo) -> None:
        self._clear_thumbs()
        try:
            record = get_evidence(
                self.context.require_workspace(), info.request.case_id, info.request.evidence_sha256
            )
        except ForensicsError as error:
            self.thumbs.addWidget(QLabel(str(error)))
            return
        path, frames = Path(record.path), info.request.frames
        request_id = info.request.id
        self.thumb_task = self.runner.start(
            "loading frames in scope", lambda p, c: scope_thumbnails(path, frames)
        )
        self.thumb_task.signals.result.connect(lambda thumbs: self._show_thumbs(thumbs, request_id))
        self.thumb_task.signals.error.connect(
            lambda text: self._is_selected(request_id) and self.thumbs.addWidget(QLabel(text))
        )

    def _is_selected(self, request_id: str) -> bool:
        """Whether ``request_id`` is the request shown now (a late worker result is not)."""
        info = self.selected
        return info is not None and info.request.id == request_id

    def _show_thumbs(self, thumbs: list, request_id: str) -> None:
        """Show the thumbnails of ``request_id`` if it is still the one selected: a request
        picked while another's thumbnails load must not show both sets (the frames of the
        wrong request, and a dialog wider than a 1366-pixel screen)."""
        if not self._is_selected(request_id):
            return
        self._clear_thumbs()
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

    def _refusal(self) -> str:
        """Why this user may not decide the selected request ("" when they may)."""
        info, session = self.selected, self.context.session
        if info is None:
            return "no request selected"
        if session is None:
            return "log in first"
        if session.name == info.request.requester:
            return "You cannot approve or deny your own request (two-person rule)."
        if session.role != "supervisor":
            return f"{session.name} is a {session.role}; only a supervisor may decide."
        return ""

    def _update_buttons(self) -> None:
        refusal = self._refusal()
        missing = [
            what
            for what, text in (
                ("your reason", self.reason_edit.toPlainText()),
                ("your passphrase", self.passphrase_edit.text()),
            )
            if not text.strip()
        ]
        ready = not refusal and not missing and self.decision_task is None
        for button in (self.approve_button, self.deny_button):
            button.setEnabled(ready)
            button.setToolTip(refusal or (f"enter {' and '.join(missing)}" if missing else ""))
        for edit in (self.reason_edit, self.passphrase_edit, self.expiry_combo):
            edit.setEnabled(not refusal)
        self.note.setText(refusal if self.selected is not None else "")

    def _expiry_s(self, info: RequestInfo) -> int:
        text = self.expiry_combo.currentText().strip()
        return info.request.duration_s if text == "requested" else parse_duration(text)

    def approve_selected(self) -> None:
        """Sign a grant with the supervisor's reason once their passphrase is verified."""
        info = self.selected
        if info is None:
            return
        try:
            expires_s = self._expiry_s(info)
        except ForensicsError as error:
            self.note.setText(str(error))
            return
        request_id = info.request.id
        self._decide(
            "approval",
            lambda ws, s, reason: approve(ws, s, request_id, expires_s=expires_s, reason=reason),
        )

    def deny_selected(self) -> None:
        """Refuse the request with the supervisor's reason once their passphrase is verified."""
        info = self.selected
        if info is None:
            return
        request_id = info.request.id
        self._decide("denial", lambda ws, s, reason: deny(ws, s, request_id, reason))

    def _decide(self, kind: str, decide) -> None:
        """Log in again with the typed passphrase on a worker, then decide with that session.

        Nothing is decided when the passphrase is wrong (custody ``login`` raises and logs
        the failure); refusals are shown in the dialog, never raised.
        """
        session = self.context.require_session()
        name, passphrase = session.name, self.passphrase_edit.text()
        reason = self.reason_edit.toPlainText().strip()
        context = self.context

        def work(progress, cancel):
            with context.worker_workspace() as ws:
                fresh = login(ws, name, passphrase)
                try:
                    return decide(ws, fresh, reason)
                finally:
                    fresh.close()

        self.note.setText("")
        self.result_label.setText(f"checking the passphrase of {name}…")
        self.decision_task = self.runner.start(kind, work)
        self.decision_task.signals.result.connect(self._on_decided)
        self.decision_task.signals.error.connect(self._on_refused)
        self._update_buttons()

    def _on_decided(self, outcome: UnlockGrant | dict) -> None:
        self.decision_task = None
        self.passphrase_edit.clear()
        self.reason_edit.clear()
        if isinstance(outcome, UnlockGrant):
            self.grant = outcome
            a, b = outcome.frames
            self.result_label.setText(
                f"<span style='color:#1e8449; font-size:13pt'><b>Approved</b></span> — "
                f"{outcome.request_id} → grant <b><tt>{outcome.id}</tt></b> for "
                f"{outcome.requester}, frames {a}–{b}, expires "
                f"{outcome.expires[:16].replace('T', ' ')} UTC. The analyst can now unlock it."
            )
        else:
            self.denial = outcome
            self.result_label.setText(
                f"<span style='color:#c0392b; font-size:13pt'><b>Denied</b></span> — "
                f"request {outcome['request_id']}: {outcome['reason']}"
            )
        self.context.data_changed.emit()
        self.reload()

    def _on_refused(self, text: str) -> None:
        self.decision_task = None
        self.passphrase_edit.clear()
        self.result_label.setText("")
        self._update_buttons()
        self.note.setText(f"Nothing decided: {text}")
