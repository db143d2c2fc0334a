"""The custody workflow of the main window: workspace, login, request, approval, reveal,
report and export. Each step is one core function (the same the CLI calls) behind a dialog.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QInputDialog,
    QProgressBar,
    QProgressDialog,
)

from forensics_app.core.custody.cases import EvidenceRecord
from forensics_app.errors import ForensicsError, InputError
from forensics_app.gui.dialogs.approval import ApprovalDialog
from forensics_app.gui.dialogs.grants import GrantsDialog
from forensics_app.gui.dialogs.login import LoginDialog
from forensics_app.gui.dialogs.request import RequestDialog
from forensics_app.gui.dialogs.user import UserDialog
from forensics_app.gui.dialogs.workspace import WorkspaceDialog
from forensics_app.gui.settings import remember_workspace

D = TypeVar("D", bound=QDialog)


class WorkflowMixin:
    """Custody actions of :class:`~forensics_app.gui.main_window.MainWindow`."""

    # -- workspace -------------------------------------------------------------------
    def choose_workspace(self) -> None:
        dialog = WorkspaceDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.chosen is not None:
            self.open_workspace(dialog.chosen, create=dialog.create)

    def open_workspace(self, root: Path, create: bool = False) -> bool:
        """Open a workspace folder (errors are shown); the user must then log in."""
        try:
            self.context.open_workspace(Path(root), create=create)
        except ForensicsError as error:
            self.show_error(str(error))
            return False
        remember_workspace(Path(root))
        self.reveal.set_evidence(None)
        self.video.close_video()
        self.current_evidence = None
        self.refresh_bookmarks()
        self.rebuild_recent_menu()
        self._update_actions()
        self.update_title()
        return True

    def open_demo(self, root: Path | None = None, then=None) -> None:
        """Open the demo workspace at ``root`` (default: a folder in the temp dir), building
        it first on a worker, with progress, when it is not there yet."""
        from forensics_app.demo import build_demo, default_demo_root, is_demo_workspace

        root = Path(root) if root else default_demo_root()

        def opened() -> None:
            if self.open_workspace(root) and then is not None:
                then()

        if is_demo_workspace(root):
            opened()
            return
        progress = QProgressDialog("Building the demo workspace…", "", 0, 1000, self)
        progress.setWindowTitle("Demo workspace")
        progress.setCancelButton(None)
        progress.setMinimumDuration(0)
        progress.setValue(0)

        def work(report, cancel):
            return build_demo(root, progress=lambda text, f: report(int(f * 1000), 1000))

        task = self.runner.start("building the demo workspace", work)
        task.signals.progress.connect(lambda done, total: progress.setValue(done))
        task.signals.result.connect(lambda _demo: opened())
        task.signals.error.connect(self.show_error)
        task.signals.finished.connect(progress.close)
        self.demo_task = task

    # -- users -----------------------------------------------------------------------
    def login_dialog(self, user: str | None = None) -> LoginDialog | None:
        """Open the (non-blocking) login dialog; switching user logs the current one out."""
        try:
            dialog = LoginDialog(self.context, self.runner, user=user, parent=self)
        except ForensicsError as error:
            self.show_error(str(error))
            return None
        dialog.accepted.connect(lambda d=dialog: d.session and self.context.set_session(d.session))
        dialog.open()
        self.active_dialog = dialog
        return dialog

    def login_with_passphrase(self, user: str, passphrase: str) -> None:
        """Log in without a dialog (command line / scripts); runs in the calling thread."""
        from forensics_app.core.custody.users import login

        self.context.set_session(login(self.context.require_workspace(), user, passphrase))

    def add_user_dialog(self) -> UserDialog | None:
        """Add a user: the first admin of a new workspace, or any user as an admin."""
        return self._show_dialog(lambda: UserDialog(self.context, self))

    def _show_dialog(self, make: Callable[[], D]) -> D | None:
        """Build a dialog with ``make`` and open it; a refusal (no login, wrong role, no
        workspace) is shown as one error line and opens nothing."""
        try:
            dialog = make()
        except ForensicsError as error:
            self.show_error(str(error))
            return None
        dialog.open()
        self.active_dialog = dialog
        return dialog

    def logout(self) -> None:
        self.reveal.lock("logged out")
        self.context.logout()

    # -- evidence --------------------------------------------------------------------
    def open_evidence(self, record: EvidenceRecord) -> None:
        """Open verified evidence in the video panel and the reveal panel."""
        if not self.open_video(Path(record.path)):
            return
        self.current_evidence = record
        self.reveal.set_evidence(record)
        self.refresh_bookmarks()
        self.update_title()

    # -- unlock ----------------------------------------------------------------------
    def request_dialog(self) -> RequestDialog | None:
        """The analyst's unlock request for the open evidence (scope = timeline selection)."""

        def make() -> RequestDialog:
            session = self.context.require_session()
            if self.current_evidence is None or self.video.player is None:
                raise InputError("open a case's evidence first (Case panel ▸ Verify & open)")
            if session.role != "analyst":
                raise InputError(
                    f"{session.name} is a {session.role}; only analysts request unlocks"
                )
            frames = self.video.timeline.selection or (self.video.index, self.video.index)
            dialog = RequestDialog(
                self.context,
                self.current_evidence,
                self.video.player.frame_count,
                frames,
                self,
                track=self.video.selected_track(),
                boxes_by_frame=self.video.boxes_by_frame(),
            )
            dialog.accepted.connect(
                lambda d=dialog: self.statusBar().showMessage(
                    f"request {d.request.id} filed", 10000
                )
            )
            return dialog

        return self._show_dialog(make)

    def approval_dialog(self) -> ApprovalDialog | None:
        def make() -> ApprovalDialog:
            self.context.require_session()
            return ApprovalDialog(self.context, self.runner, self)

        return self._show_dialog(make)

    def grants_dialog(self) -> GrantsDialog | None:
        """Every grant with its status (active, expired, revoked) and Revoke."""

        def make() -> GrantsDialog:
            self.context.require_session()
            return GrantsDialog(self.context, self)

        return self._show_dialog(make)

    def waiting_requests(self) -> int:
        """Pending requests the logged-in supervisor may decide (not their own); else 0."""
        from forensics_app.core.custody.unlock import list_requests

        session, ws = self.context.session, self.context.ws
        if session is None or ws is None or session.role != "supervisor":
            return 0
        try:
            infos = list_requests(ws)
        except ForensicsError:
            return 0
        return sum(i.status == "pending" and i.request.requester != session.name for i in infos)

    def export_request_file(self) -> None:
        """Write a request file for a supervisor at another workstation."""
        from forensics_app.core.custody.transfer import export_request
        from forensics_app.core.custody.unlock import list_requests

        try:
            ws, session = self.context.require_workspace(), self.context.require_session()
            mine = [i for i in list_requests(ws) if i.request.requester == session.name]
            if not mine:
                raise InputError("you have filed no request to export")
            info = mine[-1]
            path, _ = QFileDialog.getSaveFileName(
                self, "Export request", f"{info.request.id}.json", "JSON (*.json)"
            )
            if path:
                export_request(ws, session, info.request.id, Path(path))
        except ForensicsError as error:
            self.show_error(str(error))

    def import_file(self, kind: str) -> None:
        """Import a request (supervisor) or grant (analyst) file made elsewhere."""
        from forensics_app.core.custody.transfer import import_grant, import_request

        path, _ = QFileDialog.getOpenFileName(self, f"Import {kind}", "", "JSON (*.json)")
        if not path:
            return
        try:
            ws, session = self.context.require_workspace(), self.context.require_session()
            (import_request if kind == "request" else import_grant)(ws, session, Path(path))
        except ForensicsError as error:
            self.show_error(str(error))
            return
        self.context.data_changed.emit()

    # -- reports ---------------------------------------------------------------------
    def report_functions(self) -> tuple[Callable[..., str], Callable[..., str]]:
        """``(report, export)``: core/report's PDF report and court export as worker tasks
        (imported when first used: reportlab loads only for a report)."""
        from forensics_app.core.report.build import build_report_data, write_report
        from forensics_app.core.report.export import export_case

        def report(ws, session, case_id, out, progress, faces=None):
            # reading the reveals' exhibits: up to 60 %; rendering, logging, writing: the rest
            progress(0, 100)
            data = build_report_data(
                ws, case_id, session, faces=faces,
                progress=lambda done, n: progress(60 * done // n, 100),
            )  # fmt: skip
            progress(60, 100)
            sha = write_report(ws, session, data, out)
            progress(100, 100)
            chosen = (
                f"exhibits: the {len(faces)} bookmarked face(s)"
                if faces
                else "exhibits sampled (no bookmarks)"
            )
            return (
                f"report {data.report_id}, {len(data.exhibits)} exhibit(s), {chosen}, sha256 {sha}"
            )

        def export(ws, session, case_id, out, progress, recipient):
            result = export_case(ws, session, case_id, out, recipient, progress=progress)
            return f"export {result.export_id}: {result.files} files, {result.frames} frames"

        return report, export

    def _case_for_report(self) -> str | None:
        if self.context.session is None:
            self.show_error("log in first (File ▸ Log in)")
            return None
        if self.current_evidence is not None:
            return self.current_evidence.case_id
        case = self.evidence.selected_case()
        if case is None:
            self.show_error("select a case first (Cases and evidence panel)")
        return case

    def report_bookmarks(self, case_id: str) -> list[tuple[int, int]] | None:
        """The case's bookmarked (frame, face) pairs for ``build_report_data(faces=)``; None
        when nothing is bookmarked (the report samples, as before). Raises InputError when
        the bookmarks lie on more than one evidence file: the report's frame numbers (as
        ``report --faces``) cannot tell the files apart."""
        from forensics_app.gui.bookmarks import report_faces

        store = self.bookmark_store()
        found = store.by_evidence(case_id) if store is not None else {}
        if not found:
            return None
        if len(found) > 1:
            raise InputError(
                f"report bookmarks lie on {len(found)} evidence files of case {case_id}; the "
                "report's frame numbers cannot tell them apart: keep the bookmarks of one file"
            )
        return report_faces(next(iter(found.values())))

    def write_report(self, path: Path | None = None):
        """Write the case's PDF report (core/report) on a worker; it is logged. Its exhibits
        are the bookmarked faces (Report bookmarks panel) when there are any, else sampled;
        the save dialog's title and the status line say which. ``path`` skips the dialog."""
        report, _ = self.report_functions()
        case = self._case_for_report()
        if case is None:
            return None
        try:
            faces = self.report_bookmarks(case)
        except ForensicsError as error:
            self.show_error(str(error))
            return None
        how = (
            f"exhibits: {len(faces)} bookmarked face(s)"
            if faces
            else "exhibits sampled (no bookmarks)"
        )
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(
                self, f"Write report — {how}", f"{case}-report.pdf", "PDF (*.pdf)"
            )
            if not chosen:
                return None
            path = Path(chosen)
        self.statusBar().showMessage(f"writing the report of {case}: {how}", 10000)
        return self.run_report_task(f"writing {Path(path).name}", report, case, Path(path), faces)

    def export_case(self) -> None:
        """Write the signed court export (core/report/export) on a worker; it is logged."""
        _, export = self.report_functions()
        case = self._case_for_report()
        if case is None:
            return
        recipient, ok = QInputDialog.getText(self, "Court export", "Recipient (court, office):")
        if not ok or not recipient.strip():
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Court export", f"{case}-export.zip", "Zip (*.zip)"
        )
        if path:
            self.run_report_task(
                f"exporting {Path(path).name}", export, case, Path(path), recipient
            )

    def report_progress_bar(self) -> QProgressBar:
        """The status bar's progress of a report or export, as a percentage (made once)."""
        bar = getattr(self, "_report_bar", None)
        if bar is None:
            bar = QProgressBar()
            bar.setMaximumWidth(280)
            bar.setVisible(False)
            self.statusBar().addPermanentWidget(bar)
            self._report_bar = bar
        return bar

    def run_report_task(self, name: str, fn, case_id: str, out: Path, *extra):
        """Run a report/export function with its own workspace connection on a worker."""
        context, session = self.context, self.context.session

        def work(progress, cancel):
            with context.worker_workspace() as ws:
                return fn(ws, session, case_id, out, progress, *extra)

        task = self.runner.start(name, work)
        bar = self.report_progress_bar()
        bar.setFormat(f"{name}: %p%")
        bar.setRange(0, 100)
        bar.setValue(0)
        bar.setVisible(True)
        task.signals.progress.connect(
            lambda done, total: bar.setValue(int(100 * done / total) if total > 0 else 0)
        )
        task.signals.finished.connect(lambda: bar.setVisible(False))
        task.signals.result.connect(
            lambda text: self.statusBar().showMessage(f"{text} → {out}", 20000)
        )
        task.signals.result.connect(lambda _r: self.context.data_changed.emit())
        task.signals.error.connect(self.show_error)
        return task


def passphrase_from_env() -> str | None:
    """``$FORENSICS_PASSPHRASE`` for scripted logins (as the CLI)."""
    return os.environ.get("FORENSICS_PASSPHRASE")
