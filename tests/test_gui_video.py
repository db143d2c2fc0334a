"""The video view on the real sample clip: open, scrub, keys, jump, zoom, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from forensics_app.gui.main_window import MainWindow


def _mouse(widget, kind: QEvent.Type, x: float, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
    pos = QPointF(x, widget.height() / 2)
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


@pytest.fixture
def window(qtbot, sample_video: Path) -> MainWindow:
    win = MainWindow()
    win.confirm = lambda question: True  # closing at teardown never waits on a dialog
    qtbot.addWidget(win)
    win.show()
    assert win.open_video(sample_video)
    qtbot.waitUntil(lambda: win.video.player.current is not None, timeout=5000)
    yield win
    win.shutdown()


def _shown(window: MainWindow) -> int:
    return window.video.player.current.index


def test_opens_sample_and_shows_index_and_timestamp(window: MainWindow) -> None:
    assert window.video.player.frame_count == 300
    assert window.video.position_label.text() == "frame 0 / 299  ·  00:00:00.000"
    frame = window.video.player.current
    assert frame.image.shape == (576, 768, 3)
    assert "vtest_cut.avi" in window.windowTitle()


def test_scrubbing_follows_the_mouse_and_updates_the_label(qtbot, window: MainWindow) -> None:
    timeline = window.video.timeline
    left = Qt.MouseButton.LeftButton
    _mouse(timeline, QEvent.Type.MouseButtonPress, timeline.x_of(50.5), left)
    qtbot.waitUntil(lambda: _shown(window) == 50, timeout=3000)
    seen = []
    for target in (100, 150, 200):
        _mouse(timeline, QEvent.Type.MouseMove, timeline.x_of(target + 0.5), left)
        qtbot.waitUntil(lambda t=target: _shown(window) == t, timeout=3000)
        seen.append(window.video.position_label.text())
    _mouse(timeline, QEvent.Type.MouseButtonRelease, timeline.x_of(200.5), Qt.MouseButton.NoButton)
    assert seen[-1] == "frame 200 / 299  ·  00:00:20.000"
    assert len(set(seen)) == 3
    assert window.video.view.overlay_text == seen[-1]


def test_keyboard_moves_frames(qtbot, window: MainWindow) -> None:
    steps = [
        (Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier, 1),
        (Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier, 11),
        (Qt.Key.Key_Left, Qt.KeyboardModifier.NoModifier, 10),
        (Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier, 0),
        (Qt.Key.Key_End, Qt.KeyboardModifier.NoModifier, 299),
        (Qt.Key.Key_Home, Qt.KeyboardModifier.NoModifier, 0),
    ]
    for key, modifier, expected in steps:
        qtbot.keyClick(window, key, modifier)
        qtbot.waitUntil(lambda e=expected: _shown(window) == e, timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: _shown(window) >= 3, timeout=5000)
    assert window.video.player.playing
    qtbot.keyClick(window, Qt.Key.Key_K)
    assert not window.video.player.playing
    qtbot.keyClick(window, Qt.Key.Key_L)
    qtbot.keyClick(window, Qt.Key.Key_L)
    assert window.video.player.speed == 2
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.video.player.playing
    stopped = window.video.player.index
    qtbot.keyClick(window, Qt.Key.Key_I)
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: _shown(window) == stopped + 10, timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert window.video.timeline.selection == (stopped, stopped + 10)
    stopped = window.video.player.index
    qtbot.keyClick(window, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: _shown(window) < stopped, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_K)


def test_jump_to_frame_and_timecode(qtbot, window: MainWindow) -> None:
    edit = window.video.jump_edit
    for text, expected in (("42", 42), ("00:12.0", 120), ("25.5s", 255)):
        edit.setText(text)
        qtbot.keyClick(edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda e=expected: _shown(window) == e, timeout=3000)
    edit.setText("9999")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert window.last_error is not None and "outside the clip" in window.last_error
    assert _shown(window) == 255


def test_wheel_zooms_and_fit_restores(qtbot, window: MainWindow) -> None:
    view = window.video.view
    before = view.zoom
    centre = QPointF(view.viewport().width() / 2, view.viewport().height() / 2)
    wheel = QWheelEvent(
        centre, view.viewport().mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom == pytest.approx(before * 1.25, rel=1e-3)
    view.fit()
    assert view.zoom == pytest.approx(before, rel=1e-3)


def test_not_a_video_shows_one_line_error(qtbot, tmp_path: Path) -> None:
    bogus = tmp_path / "not_a_video.mp4"
    bogus.write_bytes(b"this is text, not a video\n" * 20)
    win = MainWindow()
    qtbot.addWidget(win)
    assert not win.open_video(bogus)
    assert win.last_error is not None and "\n" not in win.last_error
    assert "not_a_video.mp4" in win.last_error
    assert win.video.player is None
