"""One person, one track number, through the real widgets on the demo workspace (issue #15
item 8; found on Xvfb: the lanes and box labels said "T3", the request, approval, grants
view and reveal panel "track 5" for the same person, frames 20-40).

alice scans the demo clip and picks the lane of a person a linking from frame 20 would
number differently; the lane's label, the box label on the frame, the request dialog,
bob's approval dialog, the grants view and alice's reveal panel all give that person the
lane's number, and the face the reveal reconstructs is that lane's box.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gui_support as support
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsSimpleTextItem, QLabel
from test_track_numbers import FRAME, FRAMES, renumbered_lane

from forensics_app.demo import DEMO_CASE, DemoWorkspace, demo_passphrase
from forensics_app.gui.main_window import MainWindow
from forensics_app.gui.track_lanes import lane_label


@pytest.fixture
def window(qtbot, demo: DemoWorkspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")
    win = support.open_workspace_window(qtbot, Path(demo.root))
    yield win
    win.shutdown()


def login(qtbot, win: MainWindow, name: str) -> None:
    dialog = win.login_dialog(name)
    assert dialog is not None
    dialog.passphrase_edit.setText(demo_passphrase(name))
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            (win.context.session is not None and win.context.session.name == name)
            or dialog.error_label.text() != ""
        ),
        timeout=30000,
    )
    assert dialog.error_label.text() == ""


def open_evidence(qtbot, win: MainWindow) -> None:
    assert win.evidence.select_first_evidence(DEMO_CASE)
    before = win.video.player
    qtbot.mouseClick(win.evidence.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: win.video.player not in (None, before) and win.video.player.current is not None,
        timeout=60000,
    )


def seek(qtbot, win: MainWindow, index: int) -> None:
    win.video.seek(index)
    qtbot.waitUntil(lambda: win.video.player.current.index == index, timeout=10000)


def box_labels(win: MainWindow) -> list[str]:
    """The labels drawn on the frame's boxes (``K · TN``)."""
    items = win.video.view.scene().items()
    return sorted(i.text() for i in items if isinstance(i, QGraphicsSimpleTextItem))


def test_one_person_has_one_number_everywhere(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_evidence(qtbot, win)
    task = win.video.start_scan()
    assert task is not None
    qtbot.waitUntil(lambda: win.video.scan_task is None, timeout=120000)
    lane, range_number = renumbered_lane(win.video.boxes_by_frame())
    number = lane.track_id
    assert number != range_number  # the person a linking from frame 20 called another number

    # the lane and the box on the frame
    win.video.lanes.select_track(number)
    assert lane_label(win.video.lanes.track(number), True) == f"▶ track {number} · {lane.count}"
    seek(qtbot, win, FRAME)
    [face] = [k for f, k in lane.faces if f == FRAME]
    assert f"{face} · T{number}" in box_labels(win)

    # the request dialog
    win.video.timeline.set_selection(*FRAMES)
    dialog = win.request_dialog()
    assert dialog is not None and dialog.frames == FRAMES
    assert f"(track {number}," in dialog.scope_combo.currentText()
    assert dialog.tracks == (number,)
    assert f"requests track {number} of frames 20–40" in dialog.tracks_label.text()
    dialog.reason_edit.setPlainText("identify the person on the lane")
    dialog.authority_edit.setText("warrant 2026/117")
    assert f"tracks: [{number}]" in dialog.preview.text()
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    assert dialog.request is not None, dialog.error_label.text()
    assert dialog.request.tracks == (number,)

    # bob's approval dialog
    login(qtbot, win, "bob")
    approval = win.approval_dialog()
    assert approval is not None and approval.selected is not None
    assert f"track {number}" in approval.request_list.currentItem().text()
    assert f"track {number} only" in approval.details.text()
    assert f"track {range_number}" not in approval.details.text()
    qtbot.waitUntil(lambda: approval.thumbs.count() == 3, timeout=30000)
    approval.reason_edit.setPlainText("warrant seen; one person only")
    approval.passphrase_edit.setText(demo_passphrase("bob"))
    qtbot.mouseClick(approval.approve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: approval.grant is not None or approval.note.text() != "", timeout=30000)
    assert approval.grant is not None, approval.note.text()
    assert approval.grant.tracks == (number,)
    approval.accept()

    # the grants view
    grants = win.grants_dialog()
    assert grants is not None and grants.select_grant(approval.grant.id)
    scope = grants.table.item(grants.table.currentRow(), 2).text()
    assert scope == f"20–40 · track {number}"
    grants.accept()

    # alice's reveal panel: the grant, its status line and the reconstructed face's caption
    login(qtbot, win, "alice")
    open_evidence(qtbot, win)
    seek(qtbot, win, FRAME)
    panel = win.reveal
    assert f"track {number}" in panel.grant_combo.currentText()
    qtbot.waitUntil(lambda: panel.unlock_button.isEnabled(), timeout=10000)
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.grant is not None, timeout=60000)
    assert f"track {number} only" in panel.status_label.text()
    qtbot.waitUntil(
        lambda: panel.current is not None and panel.current.index == FRAME, timeout=60000
    )
    assert [(f.index, f.track) for f in panel.current.faces] == [(face, number)]
    captions = [label.text() for label in panel.findChildren(QLabel)]
    assert any(text.startswith(f"face {face} · track {number} ·") for text in captions), captions
    assert not any(f"track {range_number}" in text for text in captions)
