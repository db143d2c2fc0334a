"""The unlock request dialog (analyst): scope, reason, legal authority, duration.

It files the request with the same ``create_request`` the CLI uses and shows, before
anything is signed, the audit entry that will be written. The scope is a frame range and,
when a track is picked on the timeline's lanes, optionally that track alone, by the lane's
own number: a request's ids are linked from frame 0 (``core.roi_tracks.LINKER``), as the
lanes are and as the reveal will link them, so the person is "track N" on the lanes, the
boxes, here, in the approval, the grant, the reveal and the report. The id is still taken
from the scan's boxes in the range (linked from frame 0 up to the range's end), so a track
with no box in the range cannot be requested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from forensics_app.core.roi_tracks import Track, link_tracks, tracks_covering
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
        track: Track | None = None,
        boxes_by_frame: Mapping[int, Sequence[Sequence[int]]] | None = None,
    ) -> None:
        """``track`` (picked on the lanes) and ``boxes_by_frame`` (the scan's boxes) offer a
        request for that track alone; without them the request covers every face."""
        super().__init__(parent)
        self.setWindowTitle("Request an unlock")
        self.context = context
        self.record = record
        self.request: UnlockRequest | None = None
        self.track = track
        self.boxes_by_frame = dict(boxes_by_frame or {})
        self.scope_combo = QComboBox()
        self.scope_combo.addItem("every face in these frames", False)
        if track is not None:
            self.scope_combo.addItem(
                f"only the picked track (track {track.track_id}, {track.count} boxes)", True
            )
            self.scope_combo.setCurrentIndex(1)
        self.scope_combo.setEnabled(track is not None)
        self.scope_combo.setToolTip(
            "Pick a lane on the timeline (click its label) to ask for one track only; the "
            "grant then reveals no other face"
        )
        self.scope_combo.currentIndexChanged.connect(self._update_preview)
        self.tracks_label = QLabel()
        self.tracks_label.setWordWrap(True)
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
        form.addRow("Faces", self.scope_combo)
        form.addRow("", self.tracks_label)
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

    @property
    def tracks(self) -> tuple[int, ...] | None:
        """The track ids to request (linked from frame 0: the lane's number), or None for
        every face; an empty tuple when the picked track has no box in the range."""
        if self.track is None or not self.scope_combo.currentData():
            return None
        a, b = self.frames
        ids = link_tracks(self.boxes_by_frame, start=0, stop=b)
        return tuple(tracks_covering(ids, [f for f in self.track.faces if a <= f[0] <= b]))

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
        tracks = self.tracks
        if tracks is None:
            self.tracks_label.setText("")
            scope = "all"
        elif not tracks:
            self.tracks_label.setText("the picked track has no box in these frames")
            scope = "none"
        else:
            ids = ", ".join(map(str, tracks))
            self.tracks_label.setText(
                f"requests track {ids} of frames {a}–{b} (numbered from frame 0, as on the "
                "lanes); the reveal reconstructs no other face"
            )
            scope = f"[{ids}]"
        self.preview.setText(
            f"action: request · actor: {session.name if session else '?'} "
            f"({session.role if session else '?'})<br>"
            f"case: {self.record.case_id} · object: request:REQ-… (signed)<br>"
            f"justification: {reason} [authority: {authority}]<br>"
            f"evidence_sha256: {self.record.sha256[:16]}… · frames: [{a}, {b}] · "
            f"duration_s: {duration if duration is not None else 'invalid'} · tracks: {scope}"
        )
        ok = b >= a and reason != "…" and authority != "…" and duration is not None
        ok = ok and tracks != ()
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
                tracks=self.tracks,
            )
        except ForensicsError as error:
            self.error_label.setText(str(error))
            return
        self.context.data_changed.emit()
        self.accept()
