"""Report bookmarks through the real widgets (issue #15 item 3, the GUI side of
``report --faces``): alice bookmarks two faces in the reveal panel and a frame on the video,
removes the frame, and "Report (PDF)" makes exactly the two faces its exhibits; the
bookmarks survive a new window; without bookmarks the report samples as before. The Lock
button is disabled until a reveal is open.
"""

from __future__ import annotations

import io
from pathlib import Path

import gui_support as support
import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from test_gui_workflow import (
    approve_as,
    file_request,
    login,
    open_demo_evidence,
    seek,
    unlock_at,
)

from forensics_app.gui.bookmarks import Bookmark, BookmarkStore, report_faces
from forensics_app.gui.main_window import MainWindow


@pytest.fixture
def root(gui_template: Path, tmp_path: Path) -> Path:
    return support.copy_workspace(gui_template, tmp_path / "ws")


def pdf_text(path: Path) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def write_report(qtbot, win: MainWindow, out: Path) -> str:
    task = win.write_report(out)
    assert task is not None, win.last_error
    with qtbot.waitSignal(task.signals.result, timeout=90000) as blocker:
        pass
    return str(blocker.args[0])


def test_bookmark_store_round_trip(tmp_path: Path) -> None:
    store = BookmarkStore(tmp_path)
    marks = [Bookmark(12, 2), Bookmark(5, None, 3)]
    store.save("C-1", "ab" * 32, marks)
    assert store.load("C-1", "ab" * 32) == sorted(marks)
    assert store.load("C-2", "ab" * 32) == []
    assert BookmarkStore(tmp_path / "other").load("C-1", "ab" * 32) == []
    assert list(store.by_evidence("C-1")) == ["ab" * 32]
    assert report_faces(marks) == [(5, 1), (5, 2), (5, 3), (12, 2)]
    store.save("C-1", "ab" * 32, [])
    assert store.by_evidence("C-1") == {}


def test_bookmarked_faces_are_the_report_exhibits(qtbot, root: Path, tmp_path: Path) -> None:
    win = support.open_workspace_window(qtbot, root)
    assert not win.reveal.lock_button.isEnabled()  # before anyone logs in
    login(qtbot, win, "alice")
    assert not win.reveal.lock_button.isEnabled()
    open_demo_evidence(qtbot, win)
    assert not win.reveal.lock_button.isEnabled()  # evidence open, no reveal yet
    file_request(qtbot, win, 10, 20)
    approve_as(qtbot, win, "bob", expiry="1h")
    unlock_at(qtbot, win, 12)
    panel = win.reveal
    assert panel.lock_button.isEnabled()
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.index == 12, timeout=30000)
    qtbot.mouseClick(panel.bookmark_buttons[2], Qt.MouseButton.LeftButton)
    seek(qtbot, win, 15)
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.index == 15, timeout=30000)
    qtbot.mouseClick(panel.bookmark_buttons[3], Qt.MouseButton.LeftButton)
    seek(qtbot, win, 18)
    win.bookmark_action.trigger()  # the whole frame: its three faces
    assert win.bookmarks.bookmarks() == [Bookmark(12, 2), Bookmark(15, 3), Bookmark(18, None, 3)]
    assert "5 face(s) bookmarked" in win.bookmarks.summary.text()

    # remove the frame bookmark through the list
    win.bookmarks.list.setCurrentRow(2)
    qtbot.mouseClick(win.bookmarks.remove_button, Qt.MouseButton.LeftButton)
    assert win.bookmarks.bookmarks() == [Bookmark(12, 2), Bookmark(15, 3)]

    # the reveal's frames are the report's source; then the report uses the bookmarks
    panel.save_frames(tmp_path / "exhibits")
    qtbot.waitUntil(lambda: panel.last_written is not None, timeout=60000)
    panel.lock_button.click()
    assert not panel.lock_button.isEnabled() and panel.worker is None
    assert win.report_bookmarks(support.CASE) == [(12, 2), (15, 3)]
    result = write_report(qtbot, win, tmp_path / "chosen.pdf")
    assert "2 exhibit(s), exhibits: the 2 bookmarked face(s)" in result
    assert "bookmarked" in win.statusBar().currentMessage()
    text = pdf_text(tmp_path / "chosen.pdf")
    exhibits = [line for line in text.splitlines() if line.startswith("Exhibit ")]
    assert any(line.startswith("Exhibit 1 — frame 12") for line in exhibits), exhibits
    assert any(line.startswith("Exhibit 2 — frame 15") for line in exhibits), exhibits
    assert not any(line.startswith("Exhibit 3") for line in exhibits), exhibits
    assert "chosen by the examiner" in text
    win.shutdown()

    # a new window (a restart) shows the same bookmarks for the same evidence
    again = support.open_workspace_window(qtbot, root)
    login(qtbot, again, "alice")
    assert again.bookmarks.bookmarks() == []  # no evidence open yet
    open_demo_evidence(qtbot, again)
    assert again.bookmarks.bookmarks() == [Bookmark(12, 2), Bookmark(15, 3)]

    # remove both: the report samples its exhibits again
    for _ in range(2):
        again.bookmarks.list.setCurrentRow(0)
        again.bookmarks.remove_selected()
    assert again.bookmarks.bookmarks() == [] and again.report_bookmarks(support.CASE) is None
    assert "samples" in again.bookmarks.summary.text()
    result = write_report(qtbot, again, tmp_path / "sampled.pdf")
    assert "exhibits sampled (no bookmarks)" in result
    assert "chosen by the examiner" not in pdf_text(tmp_path / "sampled.pdf")
    again.shutdown()


def test_a_frame_without_faces_is_not_bookmarked(qtbot, root: Path) -> None:
    win = support.open_workspace_window(qtbot, root)
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    seek(qtbot, win, 32)  # frames 30-39 carry no ROI message
    assert win.bookmark_frame() is None
    assert "no face" in (win.last_error or "")
    assert win.bookmarks.bookmarks() == []
    win.shutdown()
