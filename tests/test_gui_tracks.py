"""Finding a person over time, through the real widgets (issue #15 item 8).

alice scans the demo clip's ROI messages; the lanes under the scrubber show one lane per
track with its count; clicking a lane's label picks the track and selects its frames, a
drag across the lanes selects a range; the request dialog then asks for that track only;
bob approves; alice's reveal reconstructs that track's face and leaves the others as
published. The zoom level is shown beside Fit and 1:1.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from test_gui_workflow import approve_as, login, open_demo_evidence, seek, unlock_at

from forensics_app.core.custody.unlock import list_requests
from forensics_app.gui.main_window import MainWindow
from forensics_app.gui.track_lanes import HEADER_HEIGHT, LANE_HEIGHT, tick_label, tick_step


def _send(widget, kind: QEvent.Type, x: float, y: float) -> None:
    left = Qt.MouseButton.LeftButton
    button = left if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else left
    pos = QPointF(x, y)
    event = QMouseEvent(
        kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def scan(qtbot, win: MainWindow) -> None:
    task = win.video.start_scan()
    assert task is not None
    qtbot.waitUntil(lambda: win.video.scan_task is None, timeout=60000)


def test_ticks_read_as_times() -> None:
    assert tick_step(4.0, 600) == 0.5 and tick_label(1.5, 0.5) == "0:01.5"
    assert tick_step(600.0, 1200) == 60 and tick_label(120, 60) == "2:00"
    assert tick_label(3725, 5) == "1:02:05"


def test_lanes_pick_a_track_and_the_request_asks_for_it_alone(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    lanes = win.video.lanes
    assert lanes.tracks == [] and lanes.isEnabled()
    scan(qtbot, win)
    # three heads in frames 0-29 (30-39 carry no message): three lanes of 30 boxes
    assert [(t.track_id, t.count, t.first, t.last) for t in lanes.tracks] == [
        (1, 30, 0, 29),
        (2, 30, 0, 29),
        (3, 30, 0, 29),
    ]
    assert lanes.height() == HEADER_HEIGHT + 3 * LANE_HEIGHT + 4
    seek(qtbot, win, 12)
    assert win.video.track_ids[12] == [1, 2, 3]  # the boxes on the frame carry their track

    # a drag across the lanes selects a range, shared with the scrubber
    y = HEADER_HEIGHT + LANE_HEIGHT * 0.5
    _send(lanes, QEvent.Type.MouseButtonPress, lanes.x_of(10.5), y)
    _send(lanes, QEvent.Type.MouseMove, lanes.x_of(20.5), y)
    _send(lanes, QEvent.Type.MouseButtonRelease, lanes.x_of(20.5), y)
    assert win.video.timeline.selection == (10, 20) and lanes.selection == (10, 20)
    # a plain click on a lane moves the playhead there
    _send(lanes, QEvent.Type.MouseButtonPress, lanes.x_of(5.5), y)
    _send(lanes, QEvent.Type.MouseButtonRelease, lanes.x_of(5.5), y)
    qtbot.waitUntil(lambda: win.video.player.current.index == 5, timeout=5000)

    # clicking lane 2's label picks the track and selects its frames
    _send(lanes, QEvent.Type.MouseButtonPress, 20, HEADER_HEIGHT + LANE_HEIGHT * 1.5)
    assert lanes.selected_track == 2 and win.video.timeline.selection == (0, 29)
    assert win.video.selected_track().track_id == 2
    assert win.video.view.picked_boxes == (win.video.marks[5].boxes[1],)  # drawn thicker
    win.video.timeline.set_selection(10, 20)  # narrowed on the scrubber: the pick stays

    dialog = win.request_dialog()
    assert dialog is not None and dialog.frames == (10, 20)
    assert dialog.scope_combo.isEnabled() and dialog.scope_combo.currentIndex() == 1
    assert dialog.tracks == (2,)
    assert "requests track 2 of frames 10–20" in dialog.tracks_label.text()
    dialog.reason_edit.setPlainText("identify the man in the middle")
    dialog.authority_edit.setText("warrant 2026/117")
    assert "tracks: [2]" in dialog.preview.text()
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    assert dialog.request is not None, dialog.error_label.text()
    assert dialog.request.tracks == (2,)

    approve_as(qtbot, win, "bob")
    [info] = list_requests(win.context.ws)
    assert info.status == "approved"
    unlock_at(qtbot, win, 12)
    panel = win.reveal
    assert "track 2 only" in panel.status_label.text()
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.index == 12, timeout=30000)
    assert [(f.index, f.track) for f in panel.current.faces] == [(2, 2)]
    assert panel.current.withheld == 2  # faces 1 and 3 stay as published


def test_every_face_stays_the_default_without_a_picked_track(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    dialog = win.request_dialog()
    assert dialog is not None and not dialog.scope_combo.isEnabled()
    assert dialog.tracks is None
    dialog.reject()


def test_the_zoom_level_is_shown(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    qtbot.mouseClick(win.video.one_button, Qt.MouseButton.LeftButton)
    assert win.video.zoom_label.text() == "zoom 100 %"
    win.video.view.zoom_by(1.25)
    assert win.video.zoom_label.text() == "zoom 125 %"
    qtbot.mouseClick(win.video.fit_button, Qt.MouseButton.LeftButton)
    assert win.video.zoom_label.text().endswith("(fit)")
