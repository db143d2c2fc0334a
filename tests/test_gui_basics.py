"""Window basics (issue #15 item 9): fits 1366×768 and honours ``--size``, actions that need
a login are disabled until then, PageUp/PageDown move by one second, and the demo
workspace's login dialog names its (public) demo passphrases."""

from __future__ import annotations

import gui_support as support
from test_gui_workflow import login, open_demo_evidence

from forensics_app.gui.main_window import MainWindow


def test_fits_1366_and_takes_the_size_asked(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    assert win.minimumSizeHint().width() <= 1366
    win.resize(1366, 768)
    qtbot.waitUntil(lambda: win.width() == 1366 and win.height() == 768, timeout=5000)
    win.resize(1366, 700)  # what --size 1366x700 does
    qtbot.waitUntil(lambda: win.width() == 1366 and win.height() == 700, timeout=5000)


def test_actions_need_a_login(qtbot, window: MainWindow) -> None:
    win = window
    needing = (win.new_case_action, win.add_evidence_action, win.review_action,
               win.grants_action, win.report_action, win.export_action, win.request_action)  # fmt: skip
    assert not any(action.isEnabled() for action in needing)
    assert win.login_action.isEnabled()
    login(qtbot, win, "alice")
    assert all(action.isEnabled() for action in needing)
    win.logout()
    assert not any(action.isEnabled() for action in needing)


def test_page_keys_jump_by_one_second(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    fps = round(win.video.player.fps)
    assert 1 < fps < support.FRAMES
    keys = {s.key().toString(): s for s in win.shortcuts}
    keys["PgDown"].activated.emit()  # the window-wide shortcut the key triggers
    qtbot.waitUntil(lambda: win.video.player.index == fps, timeout=5000)
    keys["PgUp"].activated.emit()
    qtbot.waitUntil(lambda: win.video.player.index == 0, timeout=5000)


def test_demo_login_dialog_names_the_passphrases(qtbot, window: MainWindow) -> None:
    win = window
    dialog = win.login_dialog()
    assert not dialog.demo_label.isVisible() and dialog.demo_label.text() == ""
    dialog.reject()
    (win.context.root / ".demo-ready").write_text("any", encoding="utf-8")
    dialog = win.login_dialog()
    text = dialog.demo_label.text()
    assert "Demo workspace" in text and "alice: <tt>demo-alice</tt>" in text
    assert "bob: <tt>demo-bob</tt>" in text
