"""The main window: menus, toolbar, video in the middle, cases left, reveal right, log below."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QToolBar,
    QWidget,
)

from forensics_app import __version__
from forensics_app.core.custody.cases import EvidenceRecord
from forensics_app.errors import ForensicsError
from forensics_app.gui import collector
from forensics_app.gui import scan as scan_mod
from forensics_app.gui.audit_view import AuditView
from forensics_app.gui.bookmarks import Bookmark, BookmarksPanel, BookmarkStore
from forensics_app.gui.context import AppContext
from forensics_app.gui.evidence_panel import EvidencePanel
from forensics_app.gui.reveal_panel import RevealPanel
from forensics_app.gui.settings import recent_workspaces
from forensics_app.gui.video_panel import VideoPanel
from forensics_app.gui.workers import TaskRunner
from forensics_app.gui.workflow import WorkflowMixin, passphrase_from_env

log = logging.getLogger(__name__)

VIDEO_FILTER = "Videos (*.avi *.mp4 *.mkv *.mov *.m4v *.ts *.webm);;All files (*)"
APP_NAME = "UU-Net Forensics"


class MainWindow(WorkflowMixin, QMainWindow):
    """The forensic workstation: evidence, video with ROIs, unlock workflow, reveal, audit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        collector.install(QApplication.instance())  # however the window was made
        self.runner = TaskRunner(self)
        self.context = AppContext(self)
        self.context.ask_db_password = self.ask_db_password
        self.current_evidence: EvidenceRecord | None = None
        self.active_dialog = None
        self.last_error: str | None = None
        self._message_boxes: list[QMessageBox] = []
        self._start_frame: int | None = None
        self._pending_start: tuple[int | None, bool] | None = None
        self.video = VideoPanel(self.runner, self)
        self.setCentralWidget(self.video)
        self.evidence = EvidencePanel(self.context, self.runner, self)
        self.evidence.confirm_other_exhibit = lambda question: self.confirm(question)
        self.reveal = RevealPanel(self.context, self)
        self.audit = AuditView(self.context, self.runner, self)
        self.bookmarks = BookmarksPanel(self)
        self.evidence_dock = self._dock(
            "Cases and evidence", self.evidence, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.bookmarks_dock = self._dock(
            "Report bookmarks", self.bookmarks, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.reveal_dock = self._dock(
            "Reveal (side by side)", self.reveal, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.audit_dock = self._dock(
            "Audit log", self.audit, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.audit_dock.hide()
        for source in (self.video, self.evidence, self.reveal):
            source.error.connect(self.show_error)
        self.evidence.evidence_opened.connect(self.open_evidence)
        self.video.frame_changed.connect(self.reveal.show_frame)
        self.video.notice.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.reveal.scope_changed.connect(self.video.timeline.set_grant_range)
        self.reveal.bookmark_face.connect(self.bookmark_face)
        self.bookmarks.bookmark_frame_requested.connect(self.bookmark_frame)
        self.bookmarks.remove_requested.connect(self.remove_bookmark)
        self.bookmarks.seek_requested.connect(self.video.seek)
        self.context.user_changed.connect(self.update_title)
        self.context.user_changed.connect(self._update_actions)
        self.context.workspace_changed.connect(self._update_actions)
        self.context.data_changed.connect(self._update_waiting)
        self.context.user_changed.connect(self._announce_waiting)
        self.user_label = QLabel("not logged in")
        self.task_label = QLabel("")
        self.statusBar().addPermanentWidget(self.task_label)
        self.statusBar().addPermanentWidget(self.user_label)
        self.runner.busy_changed.connect(
            lambda busy: self.task_label.setText("working…" if busy else "")
        )
        self._build_actions()
        self._build_menus()
        self.shortcuts = self.video.install_shortcuts(self)
        self.resize(1366, 768)  # fits a 1366×768 laptop screen
        self.resizeDocks(
            [self.evidence_dock, self.reveal_dock], [270, 380], Qt.Orientation.Horizontal
        )
        # the bookmarks list stays short under the cases: the case tree needs the height
        self.resizeDocks(
            [self.evidence_dock, self.bookmarks_dock], [480, 170], Qt.Orientation.Vertical
        )
        self._update_actions()
        self.update_title()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    # -- actions ---------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.triggered.connect(lambda _=False: slot())
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.open_workspace_action = a("Open &workspace…", self.choose_workspace, "Ctrl+Shift+O")
        self.login_action = a(
            "&Log in / switch user…",
            self.login_dialog,
            "Ctrl+L",
            "Log in (the current user is logged out)",
        )
        self.logout_action = a("Log &out", self.logout)
        self.add_user_action = a(
            "Add &user…",
            self.add_user_dialog,
            tip="First admin of a new workspace, or (as admin) any user",
        )
        self.open_video_action = a(
            "Open &video…",
            self.choose_video,
            "Ctrl+O",
            "Open a public video without a case (read-only)",
        )
        self.quit_action = a("&Quit", self.close, "Ctrl+Q")
        self.new_case_action = a("&New case…", self.evidence.new_case)
        self.add_evidence_action = a("&Add evidence…", self.evidence.choose_evidence)
        self.request_action = a(
            "&Request unlock…",
            self.request_dialog,
            "Ctrl+U",
            "Ask a supervisor to unlock a frame range (Shift+drag on the timeline selects it)",
        )
        self.review_action = a(
            "Re&view requests…",
            self.approval_dialog,
            "Ctrl+Shift+U",
            "Approve or deny unlock requests (supervisors)",
        )
        self.grants_action = a(
            "&Grants…",
            self.grants_dialog,
            "Ctrl+Shift+G",
            "Active, expired and revoked grants; revoke one (supervisors, admins)",
        )
        self.export_request_action = a("Export request file…", self.export_request_file)
        self.import_request_action = a("Import request file…", lambda: self.import_file("request"))
        self.import_grant_action = a("Import grant file…", lambda: self.import_file("grant"))
        self.report_action = a(
            "&Report (PDF)…",
            self.write_report,
            tip="Write the case's PDF report; its exhibits are the bookmarked frames and "
            "faces when there are any, else sampled",
        )
        self.bookmark_action = a(
            "&Bookmark frame for report",
            self.bookmark_frame,
            "B",
            "Bookmark the current frame (all its faces) as a report exhibit",
        )
        self.export_action = a("Court &export…", self.export_case)
        self.scan_action = a(
            "&Scan ROIs", self.video.toggle_scan, "Ctrl+R", "Read every frame's hidden ROI message"
        )
        self.fit_action = a("&Fit to window", self.video.view.fit, "Ctrl+0")
        self.zoom_in_action = a("Zoom &in", lambda: self.video.view.zoom_by(1.25), "Ctrl++")
        self.zoom_out_action = a("Zoom &out", lambda: self.video.view.zoom_by(0.8), "Ctrl+-")
        self.audit_action = self.audit_dock.toggleViewAction()
        self.audit_action.setText("&Audit log")
        self.audit_action.setShortcut(QKeySequence("Ctrl+Shift+A"))
        self.about_action = a("&About", self.show_about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_workspace_action)
        self.recent_menu = file_menu.addMenu("Recent workspaces")
        file_menu.addSeparator()
        for action in (self.login_action, self.logout_action, self.add_user_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.open_video_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        case_menu = bar.addMenu("&Case")
        for action in (self.new_case_action, self.add_evidence_action):
            case_menu.addAction(action)
        case_menu.addSeparator()
        case_menu.addAction(self.bookmark_action)
        case_menu.addAction(self.bookmarks_dock.toggleViewAction())
        case_menu.addSeparator()
        for action in (self.report_action, self.export_action):
            case_menu.addAction(action)
        unlock_menu = bar.addMenu("&Unlock")
        for action in (self.request_action, self.review_action, self.grants_action):
            unlock_menu.addAction(action)
        unlock_menu.addSeparator()
        for action in (
            self.export_request_action,
            self.import_request_action,
            self.import_grant_action,
        ):
            unlock_menu.addAction(action)
        view_menu = bar.addMenu("&View")
        for action in (self.fit_action, self.zoom_in_action, self.zoom_out_action):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.scan_action)
        view_menu.addAction(self.audit_action)
        view_menu.addAction(self.evidence_dock.toggleViewAction())
        view_menu.addAction(self.reveal_dock.toggleViewAction())
        bar.addMenu("&Help").addAction(self.about_action)
        self.toolbar = QToolBar("Main", self)
        self.toolbar.setObjectName("main-toolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.setMovable(False)
        self.addToolBar(self.toolbar)
        for action in (self.open_workspace_action, self.login_action, None, self.scan_action,
                       self.request_action, self.review_action, None, self.audit_action, self.report_action):  # fmt: skip
            if action is None:
                self.toolbar.addSeparator()
            else:
                self.toolbar.addAction(action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.user_badge = QLabel()
        self.user_badge.setObjectName("user-badge")
        self.toolbar.addWidget(self.user_badge)
        self.rebuild_recent_menu()

    def rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = recent_workspaces()
        for path in recent:
            self.recent_menu.addAction(str(path), lambda p=path: self.open_workspace(p))
        self.recent_menu.setEnabled(bool(recent))

    def _update_actions(self) -> None:
        has_ws = self.context.ws is not None
        session = self.context.session
        role = session.role if session else None
        self.login_action.setEnabled(has_ws)
        self.logout_action.setEnabled(session is not None)
        self.add_user_action.setEnabled(has_ws and (role == "admin" or self._no_users()))
        self.new_case_action.setEnabled(session is not None)
        self.add_evidence_action.setEnabled(session is not None)
        self.request_action.setEnabled(role == "analyst")
        self.review_action.setEnabled(session is not None)
        self.grants_action.setEnabled(session is not None)
        self.report_action.setEnabled(session is not None)
        self.export_action.setEnabled(session is not None)
        self.export_request_action.setEnabled(role == "analyst")
        self.import_request_action.setEnabled(role == "supervisor")
        self.import_grant_action.setEnabled(role == "analyst")
        self.scan_action.setEnabled(self.video.path is not None)
        self.bookmark_action.setEnabled(self.current_evidence is not None)
        self.user_label.setText(self.context.user_text)
        self._update_waiting()

    def _update_waiting(self) -> None:
        """Show a supervisor how many requests wait for them on the Review action."""
        waiting = self.waiting_requests()
        self.review_action.setText(
            f"Re&view requests ({waiting} waiting)…" if waiting else "Re&view requests…"
        )
        tip = "Approve or deny unlock requests (supervisors)"
        self.review_action.setToolTip(
            f"{waiting} request(s) waiting for you. {tip}" if waiting else tip
        )

    def _announce_waiting(self) -> None:
        """On a supervisor's login, say in the status line how many requests wait."""
        waiting = self.waiting_requests()
        if waiting:
            self.statusBar().showMessage(
                f"{waiting} unlock request(s) waiting for your decision (Unlock ▸ Review requests)",
                30000,
            )
        else:
            self.statusBar().clearMessage()  # nothing said to the previous user stays up

    def _no_users(self) -> bool:
        from forensics_app.core.custody.users import list_users

        return self.context.ws is not None and not list_users(self.context.ws)

    # -- video -----------------------------------------------------------------------
    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open public video", "", VIDEO_FILTER)
        if path:
            self.current_evidence = None
            self.reveal.set_evidence(None)
            self.open_video(Path(path))
            self.refresh_bookmarks()

    def open_video(self, path: Path) -> bool:
        """Open a video in the panel; errors are shown, never raised."""
        try:
            self.video.open_video(path)
        except ForensicsError as error:
            self.show_error(str(error))
            return False
        self.update_title()
        self._update_actions()
        self._apply_pending_start()
        return True

    # -- report bookmarks ------------------------------------------------------------
    def bookmark_store(self) -> BookmarkStore | None:
        """The open workspace's report bookmarks (None without a workspace)."""
        return BookmarkStore(self.context.root) if self.context.root is not None else None

    def evidence_bookmarks(self) -> list[Bookmark]:
        """The open evidence's report bookmarks (none without case evidence open)."""
        store, record = self.bookmark_store(), self.current_evidence
        if store is None or record is None:
            return []
        return store.load(record.case_id, record.sha256)

    def refresh_bookmarks(self) -> None:
        """Show the open evidence's bookmarks in the Report bookmarks panel."""
        record = self.current_evidence
        self.bookmarks.set_bookmarks(
            self.evidence_bookmarks(), Path(record.path).name if record else None
        )
        self.bookmark_action.setEnabled(record is not None)

    def _save_bookmarks(self, marks: list[Bookmark]) -> None:
        store, record = self.bookmark_store(), self.current_evidence
        if store is not None and record is not None:
            store.save(record.case_id, record.sha256, marks)
        self.refresh_bookmarks()

    def bookmark_frame(self) -> Bookmark | None:
        """Bookmark the current frame: every face its hidden ROI message lists."""
        player = self.video.player
        if self.current_evidence is None or player is None or player.current is None:
            self.show_error("open a case's evidence first (Case panel ▸ Verify & open)")
            return None
        index = player.current.index
        mark = self.video.marks.get(index) or player.current.mark
        boxes = mark.boxes if isinstance(mark, scan_mod.FrameMark) and mark.status == "ok" else ()
        if not boxes:
            self.show_error(f"frame {index} has no face in its hidden message: nothing to bookmark")
            return None
        bookmark = Bookmark(index, None, len(boxes))
        # a whole-frame bookmark replaces that frame's single-face ones (it covers them)
        kept = [b for b in self.evidence_bookmarks() if b.frame != index]
        self._save_bookmarks([*kept, bookmark])
        self.statusBar().showMessage(f"bookmarked for the report: {bookmark.text()}", 10000)
        return bookmark

    def bookmark_face(self, frame: int, face: int) -> Bookmark | None:
        """Bookmark face ``face`` (from 1) of ``frame`` (the reveal panel's face rows)."""
        if self.current_evidence is None:
            return None
        marks = self.evidence_bookmarks()
        if any(b.frame == frame and b.face in (None, face) for b in marks):
            self.statusBar().showMessage(f"frame {frame} face {face} is already bookmarked", 10000)
            return None
        bookmark = Bookmark(frame, face)
        self._save_bookmarks([*marks, bookmark])
        self.statusBar().showMessage(f"bookmarked for the report: {bookmark.text()}", 10000)
        return bookmark

    def remove_bookmark(self, bookmark: Bookmark) -> None:
        """Drop one bookmark of the open evidence."""
        self._save_bookmarks([b for b in self.evidence_bookmarks() if b != bookmark])

    # -- start-up --------------------------------------------------------------------
    def start(self, args: argparse.Namespace) -> None:
        """Apply the command line: workspace/demo, user, evidence or video, frame, scan."""
        if args.demo:
            self.open_demo(args.workspace, then=lambda: self._start_session(args))
            return
        if args.workspace and not self.open_workspace(Path(args.workspace)):
            return
        self._start_session(args)

    def _start_session(self, args: argparse.Namespace) -> None:
        """Log in and open what the command line names, once the workspace is open."""
        if args.user:
            passphrase = passphrase_from_env()
            if passphrase is None:
                self.login_dialog(args.user)
            else:
                try:
                    self.login_with_passphrase(args.user, passphrase)
                except ForensicsError as error:
                    self.show_error(str(error))
                    return
        elif self.context.ws is not None and self.context.session is None and not args.screenshot:
            self.login_dialog("alice" if args.demo else None)
        self._start_frame = args.frame
        self._pending_start = (args.frame, bool(args.scan))
        if args.video is not None:
            self.open_video(args.video)
        elif self.context.session is not None and (args.case or args.demo):
            case = args.case or "DEMO-1"
            self.evidence.refresh()
            if not self.evidence.select_first_evidence(case):
                self.show_error(f"case {case} has no evidence in this workspace")
                return
            self.evidence.open_selected()
        self.update_title()

    def _apply_pending_start(self) -> None:
        """Seek and scan as the command line asked, once the first video is open."""
        pending, self._pending_start = self._pending_start, None
        if pending is None:
            return
        frame, scan = pending
        if frame is not None:
            self.video.seek(frame)
        if scan:
            self.video.start_scan()

    def is_loaded(self) -> bool:
        """True once the first frame is shown and no background work is left."""
        if self.runner.busy:
            return False
        player = self.video.player
        if player is None:
            return True
        shown = player.current
        return shown is not None and (self._start_frame is None or shown.index == player.index)

    # -- chrome ----------------------------------------------------------------------
    def update_title(self) -> None:
        parts = [APP_NAME]
        if self.current_evidence is not None:
            parts.append(
                f"{self.current_evidence.case_id} / {Path(self.current_evidence.path).name}"
            )
        elif self.video.path is not None:
            parts.append(f"{self.video.path.name} (no case)")
        if self.context.root is not None:
            parts.append(f"workspace {self.context.root.name}")
        parts.append(self.context.user_text)
        self.setWindowTitle(" — ".join(parts))
        self.user_label.setText(self.context.user_text)
        session = self.context.session
        colour = {"analyst": "#2471a3", "supervisor": "#b9770e", "admin": "#7d3c98"}.get(
            session.role if session else "", "#7f8c8d"
        )
        self.user_badge.setText(f"  {self.context.user_text}  ")
        self.user_badge.setStyleSheet(
            f"background:{colour}; color:white; font-weight:bold; border-radius:3px; padding:2px;"
        )

    def show_error(self, text: str) -> None:
        """Show a one-line error in a window-modal message box (does not block the caller)."""
        self.last_error = text
        log.info("error shown: %s", text)
        box = QMessageBox(
            QMessageBox.Icon.Warning, APP_NAME, text, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(
            lambda _=0, b=box: b in self._message_boxes and self._message_boxes.remove(b)
        )
        self._message_boxes.append(box)
        box.open()
        self.statusBar().showMessage(text, 10000)

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            APP_NAME,
            f"{APP_NAME} {__version__}\nForensic reversal of UU-Net de-identified video "
            "under supervised unlock, with a tamper-evident audit log.",
        )

    # -- closing ---------------------------------------------------------------------
    def confirm(self, question: str) -> bool:
        """Ask a yes/no question (tests replace this method)."""
        answer = QMessageBox.question(self, APP_NAME, question)
        return answer == QMessageBox.StandardButton.Yes

    def ask_db_password(self, reason: str) -> str | None:
        """Ask for a PostgreSQL workspace's database password (libpq found none); it is kept
        in memory for this workspace only, never stored."""
        text, ok = QInputDialog.getText(
            self, APP_NAME, f"{reason}\n\nPassword:", QLineEdit.EchoMode.Password
        )
        return text if ok else None

    def closeEvent(self, event: QCloseEvent) -> None:  # Qt API
        running = [task for task in self.runner.running() if not task.is_done]
        if running:
            names = ", ".join(sorted({t.name for t in running}))
            if not self.confirm(f"Still running: {names}. Cancel and quit?"):
                event.ignore()
                return
            self.runner.cancel_all(wait_s=10.0)
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Drop the decoder and keys from memory and release files."""
        self.reveal.lock("application closing")
        self.video.close_video()
        self.runner.cancel_all(wait_s=10.0)
        self.context.close_workspace()
