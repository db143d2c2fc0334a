"""Cases and their evidence: sha256, verification state, add by dialog or drag-and-drop.

Adding evidence hashes the file on a worker (progress bar and Cancel) through the same
``add_evidence`` the CLI uses; opening evidence re-hashes it first (``reopen_evidence``,
logged) and shows whether it still matches its intake digest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from forensics_app.core.custody.cases import (
    EvidenceRecord,
    add_evidence,
    create_case,
    list_cases,
    list_evidence,
    reopen_evidence,
)
from forensics_app.gui.context import AppContext
from forensics_app.gui.workers import Task, TaskRunner

ROLE_RECORD = Qt.ItemDataRole.UserRole
STATE_TEXT = {None: "not checked", True: "verified ✓", False: "CHANGED ✗"}


class EvidencePanel(QWidget):
    """The case tree with evidence; emits ``evidence_opened`` once a file verified."""

    evidence_opened = Signal(object)  # EvidenceRecord whose hash was just re-verified
    error = Signal(str)

    def __init__(
        self, context: AppContext, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self.verified: dict[tuple[str, str], bool] = {}
        self.add_task: Task | None = None
        #: Asked before a file that is not a video is added as another kind of exhibit;
        #: the main window answers with its yes/no dialog. The core refuses such a file
        #: unless the answer is yes (``any_file``).
        self.confirm_other_exhibit: Callable[[str], bool] = lambda question: False
        self.setAcceptDrops(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Case / evidence", "state"])
        self.tree.setColumnWidth(0, 200)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self.open_selected())
        self.tree.currentItemChanged.connect(lambda *_: self._show_details())
        self.details = QLabel("Open a workspace and log in.")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setStyleSheet("font-size: 9pt;")
        self.new_case_button = QPushButton("New case…")
        self.new_case_button.clicked.connect(self.new_case)
        self.add_button = QPushButton("Add evidence…")
        self.add_button.setToolTip("Add a video to the selected case (or drop files here)")
        self.add_button.clicked.connect(self.choose_evidence)
        self.open_button = QPushButton("Verify && open")
        self.open_button.clicked.connect(self.open_selected)
        self.progress = QProgressBar()
        self.progress.setFormat("hashing %p%")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_add)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        self.progress_row = QWidget()
        self.progress_row.setLayout(row)
        self.progress_row.setVisible(False)
        buttons = QHBoxLayout()
        for button in (self.new_case_button, self.add_button, self.open_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.progress_row)
        layout.addLayout(buttons)
        context.data_changed.connect(self.refresh)
        context.user_changed.connect(self._update_enabled)
        self._update_enabled()

    # -- model -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload cases and evidence from the workspace, keeping the selection."""
        selected = self.selected_record()
        keep = (selected.case_id, selected.sha256) if selected else None
        self.tree.clear()
        if self.context.ws is None:
            return
        for case in list_cases(self.context.ws):
            case_item = QTreeWidgetItem([f"{case.case_id}  {case.title}".strip(), ""])
            case_item.setData(0, ROLE_RECORD, case.case_id)
            self.tree.addTopLevelItem(case_item)
            for record in list_evidence(self.context.ws, case.case_id):
                state = self.verified.get((record.case_id, record.sha256))
                item = QTreeWidgetItem([Path(record.path).name, STATE_TEXT[state]])
                item.setData(0, ROLE_RECORD, record)
                item.setToolTip(0, f"sha256 {record.sha256}")
                case_item.addChild(item)
                if keep == (record.case_id, record.sha256):
                    self.tree.setCurrentItem(item)
            case_item.setExpanded(True)
        self._update_enabled()

    def selected_case(self) -> str | None:
        item = self.tree.currentItem() or self.tree.topLevelItem(0)
        if item is None:
            return None
        data = item.data(0, ROLE_RECORD)
        return data.case_id if isinstance(data, EvidenceRecord) else str(data)

    def selected_record(self) -> EvidenceRecord | None:
        item = self.tree.currentItem()
        data = item.data(0, ROLE_RECORD) if item is not None else None
        return data if isinstance(data, EvidenceRecord) else None

    def select_evidence(self, case_id: str, sha256: str) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            case_item = self.tree.topLevelItem(i)
            for j in range(case_item.childCount()):
                record = case_item.child(j).data(0, ROLE_RECORD)
                if record.case_id == case_id and record.sha256 == sha256:
                    self.tree.setCurrentItem(case_item.child(j))
                    return True
        return False

    def select_first_evidence(self, case_id: str) -> bool:
        """Select the first evidence item of ``case_id`` (used at start-up)."""
        for i in range(self.tree.topLevelItemCount()):
            case_item = self.tree.topLevelItem(i)
            if case_item.data(0, ROLE_RECORD) == case_id and case_item.childCount():
                self.tree.setCurrentItem(case_item.child(0))
                return True
        return False

    def _show_details(self) -> None:
        record = self.selected_record()
        if record is None:
            case = self.selected_case()
            self.details.setText(f"Case {case}" if case else "No case selected.")
            return
        state = STATE_TEXT[self.verified.get((record.case_id, record.sha256))]
        self.details.setText(
            f"<b>{Path(record.path).name}</b><br>sha256 <tt>{record.sha256[:32]}<br>"
            f"{record.sha256[32:]}</tt><br>"
            f"{record.size:,} bytes · added {record.ingested[:19]} by {record.ingested_by}<br>"
            f"integrity: <b>{state}</b>"
        )
        self._update_enabled()

    def _update_enabled(self) -> None:
        logged_in = self.context.session is not None
        busy = self.add_task is not None
        self.new_case_button.setEnabled(logged_in)
        self.add_button.setEnabled(logged_in and not busy and self.selected_case() is not None)
        self.open_button.setEnabled(logged_in and self.selected_record() is not None)

    # -- actions ---------------------------------------------------------------------
    def new_case(self) -> None:
        case_id, ok = QInputDialog.getText(self, "New case", "Case id (e.g. 2026-0042)")
        if not ok or not case_id.strip():
            return
        try:
            create_case(
                self.context.require_workspace(), self.context.require_session(), case_id.strip()
            )
        except Exception as error:  # ForensicsError; shown as one line
            self.error.emit(str(error))
            return
        self.context.data_changed.emit()

    def choose_evidence(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add evidence", "", "Videos (*.*)")
        if path:
            self.add_evidence_file(Path(path))

    def add_evidence_file(self, path: Path, case_id: str | None = None) -> Task | None:
        """Hash and register ``path`` in the case on a worker, with progress and Cancel."""
        case_id = case_id or self.selected_case()
        if case_id is None or self.add_task is not None:
            return None
        try:
            session = self.context.require_session()
        except Exception as error:
            self.error.emit(str(error))
            return None
        context = self.context
        any_file = not _looks_like_video(path)
        if any_file and not self.confirm_other_exhibit(
            f"{path.name} is not a video. Add it as another kind of exhibit "
            "(it will have no frames to reveal)?"
        ):
            return None

        def work(progress, cancel):
            with context.worker_workspace() as ws:
                return add_evidence(
                    ws, session, case_id, path, progress=progress, any_file=any_file
                )

        task = self.runner.start(f"adding evidence {path.name}", work)
        task.signals.progress.connect(self._on_progress)
        task.signals.result.connect(self._on_added)
        task.signals.error.connect(self.error)
        task.signals.finished.connect(self._on_add_finished)
        self.add_task = task
        self.progress.setValue(0)
        self.progress_row.setVisible(True)
        self._update_enabled()
        return task

    def cancel_add(self) -> None:
        if self.add_task is not None:
            self.add_task.cancel()

    def _on_progress(self, done: int, total: int) -> None:
        scale = max(1, total // 1_000_000)
        self.progress.setMaximum(max(1, total // scale))
        self.progress.setValue(done // scale)

    def _on_added(self, record: EvidenceRecord) -> None:
        self.verified[(record.case_id, record.sha256)] = True  # just hashed at intake
        self.context.data_changed.emit()
        self.select_evidence(record.case_id, record.sha256)

    def _on_add_finished(self) -> None:
        self.add_task = None
        self.progress_row.setVisible(False)
        self._update_enabled()

    def open_selected(self) -> Task | None:
        """Re-hash the selected evidence (logged), then ask the window to open it."""
        record = self.selected_record()
        if record is None:
            return None
        session = self.context.session
        if session is None:
            self.error.emit("log in first (File ▸ Log in)")
            return None
        context = self.context

        def work(progress, cancel):
            with context.worker_workspace() as ws:
                return reopen_evidence(
                    ws, session, record.case_id, record.sha256, progress=progress
                )

        task = self.runner.start(f"verifying {Path(record.path).name}", work)
        task.signals.result.connect(self._on_verified)
        task.signals.error.connect(lambda text, r=record: self._on_verify_failed(r, text))
        return task

    def _on_verified(self, record: EvidenceRecord) -> None:
        self.verified[(record.case_id, record.sha256)] = True
        self.refresh()
        self._show_details()
        self.evidence_opened.emit(record)

    def _on_verify_failed(self, record: EvidenceRecord, text: str) -> None:
        self.verified[(record.case_id, record.sha256)] = False
        self.refresh()
        self._show_details()
        self.context.data_changed.emit()
        self.error.emit(text)

    # -- drag and drop ---------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and self.context.session is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.add_evidence_file(paths[0])
            event.acceptProposedAction()


def _looks_like_video(path: Path) -> bool:
    """A quick header-only look (the full check runs on the worker, in the core)."""
    from forensics_app.core.video import probe
    from forensics_app.errors import VideoError

    try:
        probe(path, scan=False)
    except VideoError:
        return False
    return True
