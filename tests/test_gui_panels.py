"""Evidence panel, ROI scan on the timeline, workspace dialog, workers and closing.

Each test runs in its own temporary workspace (created here with real custody calls) or on
the sample clip; nothing touches a real user's settings (conftest points HOME/XDG at tmp).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import gui_support as support
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from forensics_app.core.custody.cases import list_evidence
from forensics_app.gui import settings
from forensics_app.gui.dialogs.workspace import WorkspaceDialog
from forensics_app.gui.main_window import MainWindow
from forensics_app.gui.timeline import DAMAGED, FACES, NONE
from forensics_app.gui.workers import TaskRunner


@pytest.fixture
def window(qtbot, gui_template: Path, tmp_path: Path) -> MainWindow:
    root = support.copy_workspace(gui_template, tmp_path / "ws")
    win = MainWindow()
    win.confirm = lambda question: True  # closing at teardown never waits on a dialog
    qtbot.addWidget(win)
    win.show()
    assert win.open_workspace(root)
    win.login_with_passphrase("alice", support.PASSPHRASES["alice"])
    yield win
    win.shutdown()


def test_evidence_panel_shows_sha256_and_verification(qtbot, window: MainWindow) -> None:
    panel = window.evidence
    assert panel.select_first_evidence(support.CASE)
    record = panel.selected_record()
    assert record.sha256 in panel.details.text().replace("<br>", "")
    assert "not checked" in panel.details.text()
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.current_evidence is not None, timeout=30000)
    assert "verified ✓" in panel.details.text()
    assert (
        "DEMO-1 / demo_clip.mkv" in window.windowTitle()
        and "alice (analyst)" in window.windowTitle()
    )


def test_changed_evidence_is_flagged_and_not_opened(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    copy = tmp_path / "statement.txt"
    copy.write_bytes(b"witness statement, page 1\n" * 100)
    task = window.evidence.add_evidence_file(copy, support.CASE)
    with qtbot.waitSignal(task.signals.result, timeout=30000):
        pass
    qtbot.waitUntil(lambda: window.evidence.add_task is None, timeout=5000)
    with copy.open("r+b") as handle:  # someone alters the evidence after intake
        handle.seek(500)
        handle.write(b"X")
    assert window.evidence.select_evidence(support.CASE, window.evidence.selected_record().sha256)
    window.evidence.open_selected()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30000)
    assert "changed since intake" in window.last_error
    assert "CHANGED ✗" in window.evidence.details.text()
    assert window.current_evidence is None


def test_add_evidence_with_progress_and_cancel(qtbot, window: MainWindow, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:  # sparse: large to hash, cheap to make
        handle.truncate(400 * 1024 * 1024)
    panel = window.evidence
    seen: list[tuple[int, int]] = []
    task = panel.add_evidence_file(big, support.CASE)
    task.signals.progress.connect(lambda done, total: seen.append((done, total)))
    assert panel.progress_row.isVisibleTo(panel) and not panel.add_button.isEnabled()
    qtbot.waitUntil(lambda: bool(seen), timeout=30000)
    with qtbot.waitSignal(task.signals.cancelled, timeout=30000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.add_task is None, timeout=5000)
    assert not panel.progress_row.isVisibleTo(panel)
    assert seen[-1][1] == 400 * 1024 * 1024 and seen[-1][0] < seen[-1][1]
    assert len(list_evidence(window.context.ws, support.CASE)) == 1  # nothing was added
    assert window.last_error is None

    small = tmp_path / "notes.txt"
    small.write_bytes(b"a second exhibit\n")
    task = panel.add_evidence_file(small, support.CASE)
    with qtbot.waitSignal(task.signals.result, timeout=30000):
        pass
    assert len(list_evidence(window.context.ws, support.CASE)) == 2


def test_a_file_that_is_not_a_video_is_added_only_when_the_user_says_so(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    """Issue #14: the core refuses non-video evidence unless asked; the panel asks."""
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"not a video\n")
    questions: list[str] = []
    window.confirm = lambda q: questions.append(q) or False
    before = window.context.ws.audit.size()
    assert window.evidence.add_evidence_file(notes, support.CASE) is None
    assert questions == [
        "notes.txt is not a video. Add it as another kind of exhibit (it will have no frames "
        "to reveal)?"
    ]
    assert len(list_evidence(window.context.ws, support.CASE)) == 1
    assert window.context.ws.audit.size() == before  # refused before anything was logged
    window.confirm = lambda q: questions.append(q) or True
    task = window.evidence.add_evidence_file(notes, support.CASE)
    with qtbot.waitSignal(task.signals.result, timeout=30000):
        pass
    assert list_evidence(window.context.ws, support.CASE)[-1].details["media"] is None


def test_dropping_a_file_adds_it_as_evidence(qtbot, window: MainWindow, tmp_path: Path) -> None:
    dropped = tmp_path / "dropped.txt"
    dropped.write_bytes(b"exhibit dropped on the panel\n")
    panel = window.evidence
    panel.select_first_evidence(support.CASE)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    point = QPointF(panel.width() / 2, panel.height() / 2)
    enter = QDragEnterEvent(
        point.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(panel, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(panel, drop)
    assert panel.add_task is not None
    with qtbot.waitSignal(panel.add_task.signals.result, timeout=30000):
        pass
    names = [Path(r.path).name for r in list_evidence(window.context.ws, support.CASE)]
    assert "dropped.txt" in names


def test_scan_marks_faces_none_and_damaged_on_the_timeline(qtbot, window: MainWindow) -> None:
    window.evidence.select_first_evidence(support.CASE)
    window.evidence.open_selected()
    qtbot.waitUntil(
        lambda: window.video.player is not None and window.video.player.current is not None,
        timeout=30000,
    )
    video = window.video
    task = video.start_scan()
    assert video.scan_progress.isVisibleTo(video) and video.scan_button.text() == "Stop scan"
    with qtbot.waitSignal(video.scan_finished, timeout=60000) as blocker:
        pass
    summary = blocker.args[0]
    assert (summary.frames, summary.ok, summary.none, summary.damaged) == (40, 30, 9, 1)
    marks = video.timeline.marks
    assert set(marks[:30]) == {FACES} and marks[support.DAMAGED_FRAME] == DAMAGED
    assert marks[30] == NONE and marks[39] == NONE
    assert video.marks[12].boxes and len(video.marks[12].boxes) == 3
    assert task.is_done  # set before ``result`` goes out
    # ``finished`` follows ``result`` through the queue; the button resets on it.
    qtbot.waitUntil(lambda: video.scan_button.text() == "Scan ROIs", timeout=10000)


def test_workspace_dialog_lists_recent_workspaces(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    path = settings.settings_path()
    assert str(path).startswith(os.environ["HOME"])  # never the real user's settings
    assert window.context.root.resolve() in [p.resolve() for p in settings.recent_workspaces()]
    dialog = WorkspaceDialog(window)
    qtbot.addWidget(dialog)
    assert dialog.recent_list.count() == 1 and dialog.open_button.isEnabled()
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert dialog.chosen is not None and dialog.chosen.resolve() == window.context.root.resolve()


def test_new_workspace_and_switching_user(qtbot, window: MainWindow, tmp_path: Path) -> None:
    assert window.context.session.name == "alice" and window.request_action.isEnabled()
    window.login_with_passphrase("bob", support.PASSPHRASES["bob"])
    assert "bob (supervisor)" in window.windowTitle()
    assert not window.request_action.isEnabled() and window.review_action.isEnabled()
    assert window.open_workspace(tmp_path / "fresh", create=True)
    assert window.context.session is None and (tmp_path / "fresh" / "workspace.sqlite").is_file()
    assert "not logged in" in window.windowTitle()
    assert window.add_user_action.isEnabled()  # a new workspace needs its first admin
    dialog = window.add_user_dialog()
    assert dialog.role_combo.count() == 1 and dialog.role_combo.currentText() == "admin"
    dialog.name_edit.setText("erin")
    dialog.passphrase_edit.setText("erin-passphrase")
    dialog.repeat_edit.setText("erin-typo")
    dialog.submit()
    assert "differ" in dialog.error_label.text() and dialog.user is None
    dialog.passphrase_edit.setText("erin-passphrase")
    dialog.repeat_edit.setText("erin-passphrase")
    dialog.submit()
    assert dialog.user is not None and dialog.user.role == "admin"
    window.login_with_passphrase("erin", "erin-passphrase")
    assert "erin (admin)" in window.windowTitle() and window.add_user_action.isEnabled()


def test_closing_during_work_asks_and_cancels(qtbot, window: MainWindow) -> None:
    release = threading.Event()

    def slow(progress, cancel):
        while not cancel():
            release.wait(0.01)
            progress(0, 1)
        return "done"

    task = window.runner.start("slow job", slow)
    questions: list[str] = []
    window.confirm = lambda q: questions.append(q) or False
    window.close()
    assert questions and "slow job" in questions[0]
    assert window.isVisible() and not task.is_done  # the user said no: nothing stopped
    window.confirm = lambda q: questions.append(q) or True
    window.close()
    assert task.is_done and task.is_cancelled and not window.isVisible()


def test_task_runner_reports_progress_results_and_one_line_errors(qtbot) -> None:
    runner = TaskRunner()
    done = runner.start("sum", lambda progress, cancel: (progress(1, 2), 42)[1])
    with qtbot.waitSignal(done.signals.result, timeout=10000) as blocker:
        pass
    assert blocker.args == [42]

    def boom(progress, cancel):
        raise RuntimeError("disk on fire\nsecond line")

    failed = runner.start("boom", boom)
    with qtbot.waitSignal(failed.signals.error, timeout=10000) as blocker:
        pass
    assert blocker.args == ["boom failed: disk on fire second line"]
    start = time.monotonic()
    slow = runner.start("slow", lambda progress, cancel: [progress(i, 10**6) for i in range(10**6)])
    slow.cancel()
    with qtbot.waitSignal(slow.signals.cancelled, timeout=10000):
        pass
    assert time.monotonic() - start < 5
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
