"""The side-by-side reveal: public crop | reconstructed crop, or whole frames.

Opens a :class:`~forensics_app.gui.reveal_worker.RevealWorker` under a grant; the core
decides, frame by frame, what may be revealed and the panel shows its one-line reason when
it refuses (outside the grant, expired, revoked). Every reconstructed image carries a
visible "reconstruction — model output" mark. The grant's expiry counts down; at zero the
decoder is dropped from memory and the panel locks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from forensics_app.core.custody.cases import EvidenceRecord
from forensics_app.core.custody.flags import BoxFlag, box_flags, flag_box
from forensics_app.core.custody.reveal import RevealedFrame
from forensics_app.core.custody.unlock import (
    RequestInfo,
    UnlockGrant,
    grant_status,
    list_grants,
    list_requests,
    usable_grants,
)
from forensics_app.core.roi_tracks import track_words
from forensics_app.errors import ForensicsError
from forensics_app.gui.context import AppContext
from forensics_app.gui.frame_source import bgr_to_qimage
from forensics_app.gui.reveal_worker import RevealWorker
from forensics_app.gui.watermark import MARK_TEXT, mark_reconstruction

log = logging.getLogger(__name__)

CROP_HEIGHT = 170
LOCK_STYLE = "background:#2b2b30; color:#f0b429; font-weight:bold; padding:10px; border-radius:4px;"


def enlarge(bgr: np.ndarray, height: int, smooth: bool) -> np.ndarray:
    """Scale a crop to ``height`` pixels high (nearest keeps the pixels honest)."""
    h, w = bgr.shape[:2]
    scale = height / max(1, h)
    size = (max(1, round(w * scale)), height)
    return cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC if smooth else cv2.INTER_NEAREST)


class RevealPanel(QWidget):
    """Reconstructed faces for the current frame, within the grant only."""

    error = Signal(str)
    locked = Signal(str)
    scope_changed = Signal(object)  # (first, last) of the open grant, or None
    bookmark_face = Signal(int, int)  # (frame, face number from 1): a report exhibit

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.record: EvidenceRecord | None = None
        self.worker: RevealWorker | None = None
        self.grant: UnlockGrant | None = None
        self.index = 0
        self.current: RevealedFrame | None = None
        #: Asks the analyst why a box is not a person: (text, ok). Tests replace it.
        self.ask_reason: Callable[[str], tuple[str, bool]] = self._ask_reason
        #: The "Not a person…" buttons of the faces shown now, by face number.
        self.flag_buttons: dict[int, QPushButton] = {}
        #: The "Bookmark" buttons (a face as a report exhibit) of the faces shown now.
        self.bookmark_buttons: dict[int, QPushButton] = {}
        self.last_reveal_ms: float | None = None
        self.last_written: Path | None = None
        self.lock_reason = "no evidence open"
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.grant_combo = QComboBox()
        self.grant_combo.setMinimumWidth(120)
        self.unlock_button = QPushButton("Unlock with grant")
        self.unlock_button.clicked.connect(self.unlock_selected)
        self.unlock_button.setEnabled(False)
        self.save_button = QPushButton("Save frames…")
        self.save_button.setToolTip(
            "Write every frame in the grant's scope (public, reconstructed, face crops) as "
            "exhibits for the report; logged as a reveal"
        )
        self.save_button.clicked.connect(self.choose_save_folder)
        self.save_button.setEnabled(False)
        self.lock_button = QPushButton("Lock")
        self.lock_button.clicked.connect(lambda: self.lock("locked by the user"))
        self.lock_button.setToolTip("Close the reveal and drop the decoder from memory")
        self.lock_button.setEnabled(False)  # nothing to lock until a reveal is open
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.requests_label = QLabel("")
        self.requests_label.setObjectName("request-status")
        self.requests_label.setWordWrap(True)
        self.requests_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.countdown_label = QLabel("")
        self.countdown_label.setStyleSheet("font-family: monospace; font-weight: bold;")
        self.lock_label = QLabel()
        self.lock_label.setWordWrap(True)
        self.lock_label.setStyleSheet(LOCK_STYLE)
        self.nearest_radio = QRadioButton("nearest")
        self.smooth_radio = QRadioButton("smooth")
        self.nearest_radio.setChecked(True)
        scaling = QButtonGroup(self)
        for radio in (self.nearest_radio, self.smooth_radio):
            scaling.addButton(radio)
            radio.toggled.connect(lambda _=False: self._render())
        self.whole_check = QCheckBox("whole frame")
        self.whole_check.setToolTip("Show the public frame beside the frame with faces restored")
        self.whole_check.toggled.connect(lambda _=False: self._render())
        self.content = QWidget()
        self.grid = QGridLayout(self.content)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.content)
        self.scroll = scroll
        # the grant on a row of its own, the buttons below: the panel stays narrow enough
        # for the whole window to fit a 1366-pixel screen (issue #15 item 9)
        # the countdown beside the grant, not on the options row: there it widened the
        # panel past what a 1366-pixel window leaves it once a reveal was open
        top = QVBoxLayout()
        grant_row = QHBoxLayout()
        grant_row.addWidget(self.grant_combo, 1)
        grant_row.addWidget(self.countdown_label)
        top.addLayout(grant_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.unlock_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.lock_button)
        buttons.addStretch(1)
        top.addLayout(buttons)
        options = QHBoxLayout()
        options.addWidget(QLabel("scaling:"))
        options.addWidget(self.nearest_radio)
        options.addWidget(self.smooth_radio)
        options.addSpacing(12)
        options.addWidget(self.whole_check)
        options.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.requests_label)
        layout.addWidget(self.status_label)
        layout.addLayout(options)
        layout.addWidget(self.lock_label)
        layout.addWidget(scroll, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.tick)
        context.user_changed.connect(lambda: self.lock("user changed"))
        context.user_changed.connect(self.refresh_grants)
        context.data_changed.connect(self.refresh_grants)
        self._show_locked("no evidence open")

    # -- grants ----------------------------------------------------------------------
    def set_evidence(self, record: EvidenceRecord | None) -> None:
        """The evidence now shown in the video panel (locks any open reveal)."""
        self.lock("evidence changed" if self.record else "no grant opened")
        self.record = record
        self.refresh_grants()

    def usable_grants(self) -> list[UnlockGrant]:
        """Grants to the logged-in user for this evidence, not expired, not revoked."""
        ws, session, record = self.context.ws, self.context.session, self.record
        if ws is None or session is None or record is None:
            return []
        return usable_grants(ws, session, record.case_id, record.sha256, now=self.clock())

    def my_requests(self) -> list[RequestInfo]:
        """The logged-in user's requests for the open evidence, newest first."""
        ws, session, record = self.context.ws, self.context.session, self.record
        if ws is None or session is None or record is None:
            return []
        try:
            infos = list_requests(ws, record.case_id)
        except ForensicsError as error:
            log.warning("cannot list requests: %s", error)
            return []
        mine = [
            i
            for i in infos
            if i.request.requester == session.name and i.request.evidence_sha256 == record.sha256
        ]
        return sorted(mine, key=lambda i: i.request.created, reverse=True)

    def request_status(self, info: RequestInfo) -> str:
        """One line for a request: "pending since…", "denied: reason" or "approved by…"."""
        r = info.request
        tracks = "" if r.tracks is None else ", " + track_words(r.tracks, r.track_origin)
        head = f"{r.id} (frames {r.frames[0]}–{r.frames[1]}{tracks})"
        decision = info.decision or {}
        if info.status == "pending":
            return f"{head}: pending since {r.created[:16].replace('T', ' ')} UTC"
        if info.status == "denied":
            by = decision.get("by", "?")
            return f"{head}: denied by {by}: {decision.get('reason', '')}"
        grant_id = decision.get("grant", "")
        text = f"{head}: approved"
        ws = self.context.ws
        try:
            grant = next(g for g in list_grants(ws, r.case_id) if g.id == grant_id) if ws else None
        except (ForensicsError, StopIteration):
            grant = None
        if grant is None:
            return f"{text} (grant {grant_id})"
        status = grant_status(ws, grant, self.clock())
        state = {"active": f"expires {grant.expires[:16].replace('T', ' ')} UTC"}.get(
            status, status
        )
        return f"{text} by {grant.approver} — grant {grant.id}, {state}"

    def refresh_requests(self) -> None:
        """Show the status of the user's requests for this evidence (newest three)."""
        lines = [self.request_status(i) for i in self.my_requests()[:3]]
        self.requests_label.setText("\n".join(lines))
        self.requests_label.setVisible(bool(lines))

    def refresh_grants(self, keep_reason: bool = False) -> None:
        """Reload the usable grants; unless ``keep_reason``, say what the user can do."""
        self.refresh_requests()
        grants = self.usable_grants()
        self.grant_combo.clear()
        for g in grants:
            self.grant_combo.addItem(
                f"{g.id} · frames {g.frames[0]}–{g.frames[1]}"
                + ("" if g.tracks is None else " · " + track_words(g.tracks, g.track_origin))
                + f" · by {g.approver}",
                g.id,
            )
        self.unlock_button.setEnabled(bool(grants) and self.worker is None)
        if self.worker is None and not keep_reason:
            if self.record is None:
                self._show_locked("no evidence open")
            elif self.context.session is None:
                self._show_locked("log in to reveal")
            elif grants:
                self._show_locked(f"{len(grants)} grant(s) available — press “Unlock with grant”")
            elif self.context.session.role != "analyst":
                self._show_locked(
                    f"reveals are for the analyst a grant names; as a {self.context.session.role} "
                    "you review requests (Unlock ▸ Review requests)"
                )
            else:
                self._show_locked("no valid grant for this evidence — request an unlock")

    # -- session ---------------------------------------------------------------------
    def unlock_selected(self) -> RevealWorker | None:
        grant_id = self.grant_combo.currentData()
        if not grant_id or self.context.root is None or self.context.session is None:
            return None
        self.lock("switching grant")
        self._show_locked(f"checking grant {grant_id} and decrypting the decoder…")
        self.unlock_button.setEnabled(False)
        worker = RevealWorker(
            self.context.root, self.context.session, str(grant_id), self,
            db_password=self.context.db_password,
        )  # fmt: skip
        worker.opened.connect(self._on_opened)
        worker.open_failed.connect(self._on_open_failed)
        worker.revealed.connect(self._on_revealed)
        worker.refused.connect(self._on_refused)
        worker.write_progress.connect(self._on_write_progress)
        worker.written.connect(self._on_written)
        worker.write_failed.connect(self.error)
        self.worker = worker
        return worker

    def _on_opened(self, session) -> None:  # RevealSession
        self.grant = session.grant
        a, b = self.grant.frames
        self.status_label.setText(
            f"<b>{self.grant.id}</b> · frames {a}–{b}"
            + (
                ""
                if self.grant.tracks is None
                else f" · <b>{track_words(self.grant.tracks, self.grant.track_origin)} only</b>"
            )
            + f" · approved by {self.grant.approver}<br>"
            f"authority: {self.grant.doc.get('authority', '')}"
        )
        self.timer.start()
        self.tick()
        self.save_button.setEnabled(True)
        self.lock_button.setEnabled(True)
        self.scope_changed.emit(self.grant.frames)
        self.context.data_changed.emit()  # the consultation is in the log now
        self.show_frame(self.index)

    def _on_open_failed(self, text: str) -> None:
        self.worker = None
        self._show_locked(text)
        self.unlock_button.setEnabled(bool(self.grant_combo.count()))
        self.error.emit(text)

    def lock(self, reason: str) -> None:
        """Close the reveal: the decoder is dropped and the panel shows ``reason``."""
        log.debug("lock: %s", reason)
        worker, self.worker = self.worker, None
        self.timer.stop()
        self.countdown_label.setText("")
        self.grant = None
        self.current = None
        self.save_button.setEnabled(False)
        self.lock_button.setEnabled(False)
        if worker is not None:
            worker.close()
            self.status_label.setText("")
            self.locked.emit(reason)
            self.scope_changed.emit(None)
        self._show_locked(reason)
        self.unlock_button.setEnabled(bool(self.grant_combo.count()))

    def tick(self) -> None:
        """Count down to the grant's expiry; at zero, lock and drop the decoder."""
        if self.grant is None:
            return
        left = (self.grant.expires_at - self.clock()).total_seconds()
        if left <= 0:
            self.lock(f"grant {self.grant.id} expired at {self.grant.expires} — decoder dropped")
            self.refresh_grants(keep_reason=True)
            return
        hours, rest = divmod(int(left), 3600)
        self.countdown_label.setText(f"expires in {hours:02d}:{rest // 60:02d}:{rest % 60:02d}")

    # -- frames ----------------------------------------------------------------------
    def show_frame(self, index: int) -> None:
        """Follow the video panel: ask the core to reveal ``index`` (it may refuse)."""
        self.index = index
        log.debug("show frame %d (session open: %s)", index, self.grant is not None)
        if self.worker is not None and self.grant is not None:
            self.worker.request(index)

    def _on_revealed(self, frame: RevealedFrame, ms: float) -> None:
        log.debug("frame %d revealed in %.0f ms (showing %d)", frame.index, ms, self.index)
        if frame.index != self.index:
            return
        self.current, self.last_reveal_ms = frame, ms
        self.lock_label.setVisible(False)
        self._render()

    def _on_refused(self, index: int, reason: str) -> None:
        log.debug("frame %d refused: %s", index, reason)
        if index != self.index:
            return
        self.current = None
        self._show_locked(reason)
        if self.grant is not None and self.clock() >= self.grant.expires_at:
            self.lock(reason)

    def resizeEvent(self, event) -> None:  # Qt API
        super().resizeEvent(event)
        if self.current is not None and self.whole_check.isChecked():
            self._render()  # whole frames follow the panel's width

    def _show_locked(self, reason: str) -> None:
        self.lock_reason = reason
        self.lock_label.setText(f"LOCKED — {reason}")
        self.lock_label.setVisible(True)
        self._clear()

    def _clear(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.setParent(None)
                widget.deleteLater()

    def _image_label(self, bgr: np.ndarray, caption: str, reconstructed: bool) -> QWidget:
        """A picture (marked as a reconstruction when ``reconstructed``) over its caption;
        the caption wraps at the picture's width so it never widens the panel."""
        image = bgr_to_qimage(bgr)
        if reconstructed:
            image = mark_reconstruction(image)
        picture = QLabel()
        picture.setPixmap(QPixmap.fromImage(image))
        picture.setToolTip(MARK_TEXT if reconstructed else "public (de-identified) image")
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(2, 2, 2, 2)
        column.addWidget(picture)
        text = QLabel(caption)
        text.setStyleSheet("font-size: 8pt; color: gray;")
        text.setWordWrap(True)
        text.setMaximumWidth(max(image.width(), 120))
        column.addWidget(text)
        return box

    def _render(self) -> None:
        self._clear()
        frame = self.current
        if frame is None:
            return
        smooth = self.smooth_radio.isChecked()
        if self.whole_check.isChecked():
            width = max(160, (self.scroll.viewport().width() - 40) // 2)
            for column, (image, caption, recon) in enumerate(
                (
                    (frame.public_bgr, "public frame", False),
                    (frame.reconstructed_bgr, "faces restored", True),
                )
            ):
                h = round(image.shape[0] * width / image.shape[1])
                small = cv2.resize(image, (width, h), interpolation=cv2.INTER_AREA)
                self.grid.addWidget(
                    self._image_label(small, f"{caption} · frame {frame.index}", recon), 0, column
                )
            return
        if not frame.faces:
            self._show_locked(
                f"frame {frame.index}: {frame.withheld} face(s), none of the granted tracks"
                if frame.withheld
                else f"frame {frame.index}: no faces in its hidden message ({frame.status})"
            )
            return
        self.grid.addWidget(QLabel("<b>public</b>"), 0, 0)
        self.grid.addWidget(QLabel("<b>reconstructed</b>"), 0, 1)
        flags = self._frame_flags(frame.index)
        self.flag_buttons = {}
        self.bookmark_buttons = {}
        # per face: the two pictures side by side, then the caption (wrapped, in full) and
        # the flag button on a row of their own across both columns, so the panel keeps
        # to two crops' width (a third column for the button was cut off at 1366 px)
        for k, face in enumerate(frame.faces):
            row = 1 + 2 * k
            x, y, w, h = face.box
            flag = flags.get(face.index)
            # the ROI message carries boxes only: the detector's confidence is not known here
            track = "" if face.track is None else f" · track {face.track}"
            caption = f"face {face.index}{track} · {w}×{h} px at ({x}, {y})" + (
                f" · {flag.text()}" if flag else ""
            )
            button = QPushButton("flagged" if flag else "Not a person…")
            button.setEnabled(flag is None)
            button.setToolTip(
                f"{flag.text()} — {flag.by}, {flag.time}"
                if flag
                else "Flag this box as a false detection (logged, with your reason); reports "
                "then leave its reconstruction out and exports name it"
            )
            button.clicked.connect(lambda _=False, n=face.index: self.flag_face(n))
            self.flag_buttons[face.index] = button
            mark = QPushButton("Bookmark")
            mark.setToolTip(
                f"Bookmark face {face.index} of frame {frame.index} as a report exhibit "
                "(listed in Report bookmarks)"
            )
            mark.clicked.connect(
                lambda _=False, f=frame.index, n=face.index: self.bookmark_face.emit(f, n)
            )
            self.bookmark_buttons[face.index] = mark
            public = enlarge(face.public_crop, CROP_HEIGHT, smooth)
            recon = enlarge(face.reconstructed_crop, CROP_HEIGHT, smooth)
            pair = (
                self._image_label(public, f"face {face.index} · public", False),
                self._image_label(recon, f"face {face.index} · model output", True),
            )
            for column, picture in enumerate(pair):
                self.grid.addWidget(picture, row, column)
            text = QLabel(caption)
            text.setWordWrap(True)
            text.setStyleSheet("font-size: 8pt;")
            under = QHBoxLayout()
            under.setContentsMargins(2, 0, 2, 8)
            under.addWidget(text, 1)
            actions = QVBoxLayout()  # stacked: side by side they widened the panel
            actions.setSpacing(2)
            actions.addWidget(button)
            actions.addWidget(mark)
            under.addLayout(actions)
            holder = QWidget()
            holder.setLayout(under)
            holder.setMaximumWidth(public.shape[1] + recon.shape[1] + 24)
            self.grid.addWidget(holder, row + 1, 0, 1, 2)

    # -- flags -----------------------------------------------------------------------
    def _frame_flags(self, frame: int) -> dict[int, BoxFlag]:
        """The current evidence's flagged boxes of ``frame``, by face number."""
        ws, record = self.context.ws, self.record
        if ws is None or record is None:
            return {}
        try:
            flags = box_flags(ws, record.case_id)
        except ForensicsError as error:
            log.warning("cannot read box flags: %s", error)
            return {}
        return {f.face: f for f in flags.values() if (f.evidence_sha256, f.frame) ==
                (record.sha256, frame)}  # fmt: skip

    def _ask_reason(self, prompt: str) -> tuple[str, bool]:
        return QInputDialog.getText(self, "Not a person", prompt)

    def flag_face(self, number: int) -> BoxFlag | None:
        """Flag face ``number`` of the current frame as not a person, with a reason asked of
        the analyst; the core logs it (one signed ``flag`` row) and refuses a blank reason."""
        frame, record = self.current, self.record
        face = next((f for f in frame.faces if f.index == number), None) if frame else None
        if frame is None or record is None or face is None:
            return None
        reason, ok = self.ask_reason(
            f"Frame {frame.index}, face {number}: what does the box show instead of a person?"
        )
        if not ok:
            return None
        try:
            flag = flag_box(
                self.context.require_workspace(), self.context.require_session(),
                record.case_id, record.sha256, frame.index, number, reason, face.box,
            )  # fmt: skip
        except ForensicsError as error:
            self.error.emit(str(error))
            return None
        self.status_label.setText(f"frame {frame.index} face {number}: {flag.text()} (logged)")
        self._render()
        self.context.data_changed.emit()
        return flag

    # -- exhibits --------------------------------------------------------------------
    def choose_save_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Empty folder for the revealed frames")
        if folder:
            self.save_frames(Path(folder))

    def save_frames(self, folder: Path) -> None:
        """Write the frames in scope on the reveal thread (progress in the status line)."""
        if self.worker is not None:
            self.save_button.setEnabled(False)
            self.worker.write(folder)

    def _on_write_progress(self, done: int, total: int) -> None:
        self.status_label.setText(f"writing revealed frames: {done}/{total}")

    def _on_written(self, path: Path) -> None:
        self.last_written = path
        self.save_button.setEnabled(self.worker is not None)
        self.status_label.setText(f"revealed frames written: {path.parent} (logged)")
        self.context.data_changed.emit()

    def evidence_path(self) -> Path | None:
        return Path(self.record.path) if self.record else None
