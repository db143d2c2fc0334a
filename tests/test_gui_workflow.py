"""The custody workflow driven through the real widgets, in a temporary workspace.

alice logs in, opens DEMO-1, scrubs to a frame with faces, requests an unlock; self-approval
is impossible; bob approves; alice reveals a frame in scope (reconstructed faces, marked)
and sees a locked panel outside it; expiry locks; the audit view verifies and names a
tampered row; a wrong passphrase unlocks nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import gui_support as support
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel

from forensics_app.core.custody.unlock import approve, list_requests
from forensics_app.errors import PermissionDenied
from forensics_app.gui.main_window import MainWindow
from forensics_app.gui.watermark import MARK_TEXT


def login(qtbot, win: MainWindow, name: str, passphrase: str | None = None) -> None:
    dialog = win.login_dialog(name)
    assert dialog is not None and dialog.user_name == name
    dialog.passphrase_edit.setText(passphrase or support.PASSPHRASES[name])
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    if passphrase is None:
        qtbot.waitUntil(
            lambda: (
                (win.context.session is not None and win.context.session.name == name)
                or dialog.error_label.text() != ""
            ),
            timeout=30000,
        )
        assert dialog.error_label.text() == ""


def open_demo_evidence(qtbot, win: MainWindow) -> None:
    assert win.evidence.select_first_evidence(support.CASE)
    before = win.video.player
    qtbot.mouseClick(win.evidence.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: win.video.player not in (None, before) and win.video.player.current is not None,
        timeout=20000,
    )
    assert win.current_evidence is not None


def seek(qtbot, win: MainWindow, index: int) -> None:
    win.video.seek(index)
    qtbot.waitUntil(lambda: win.video.player.current.index == index, timeout=5000)


def shift_drag(win: MainWindow, first: int, last: int) -> None:
    timeline = win.video.timeline
    shift, left = Qt.KeyboardModifier.ShiftModifier, Qt.MouseButton.LeftButton
    for kind, index, buttons in (
        (QEvent.Type.MouseButtonPress, first, left),
        (QEvent.Type.MouseMove, last, left),
        (QEvent.Type.MouseButtonRelease, last, Qt.MouseButton.NoButton),
    ):
        pos = QPointF(timeline.x_of(index + 0.5), timeline.height() / 2)
        button = left if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
        event = QMouseEvent(kind, pos, timeline.mapToGlobal(pos), button, buttons, shift)
        QApplication.sendEvent(timeline, event)


def file_request(qtbot, win: MainWindow, first: int, last: int) -> str:
    shift_drag(win, first, last)
    assert win.video.timeline.selection == (first, last)
    dialog = win.request_dialog()
    assert dialog is not None and dialog.frames == (first, last)
    assert not dialog.submit_button.isEnabled()  # reason and authority still empty
    dialog.reason_edit.setPlainText("identify the person who left the bag near the tripod")
    dialog.authority_edit.setText("warrant 2026/117")
    assert (
        "warrant 2026/117" in dialog.preview.text()
        and f"[{first}, {last}]" in dialog.preview.text()
    )
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    assert dialog.request is not None, dialog.error_label.text()
    return dialog.request.id


def approve_as(qtbot, win: MainWindow, supervisor: str, expiry: str = "requested") -> None:
    login(qtbot, win, supervisor)
    dialog = win.approval_dialog()
    assert dialog is not None and dialog.selected is not None
    qtbot.waitUntil(lambda: dialog.thumbs.count() == 3, timeout=30000)  # public frames in scope
    assert not dialog.approve_button.isEnabled()  # a reason and the passphrase first
    dialog.reason_edit.setPlainText("warrant checked; range limited to the bag drop")
    dialog.passphrase_edit.setText(support.PASSPHRASES[supervisor])
    assert dialog.approve_button.isEnabled()
    dialog.expiry_combo.setCurrentText(expiry)
    qtbot.mouseClick(dialog.approve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.grant is not None or dialog.note.text() != "", timeout=30000)
    assert dialog.grant is not None, dialog.note.text()
    assert dialog.grant.id in dialog.result_label.text()


def unlock(qtbot, win: MainWindow) -> None:
    panel = win.reveal
    qtbot.waitUntil(lambda: panel.unlock_button.isEnabled(), timeout=5000)
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.grant is not None, timeout=30000)


def unlock_at(qtbot, win: MainWindow, frame: int) -> None:
    """After an approval: alice logs in again, reopens the evidence, goes to ``frame`` and
    unlocks the reveal panel with her grant."""
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    seek(qtbot, win, frame)
    unlock(qtbot, win)


def revealed_at(qtbot, win: MainWindow, frame: int = 12):  # noqa: ANN201
    """alice asks for frames 0-29, dave approves for an hour, alice unlocks at ``frame`` and
    its faces are revealed; returns the reveal panel."""
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    file_request(qtbot, win, 0, 29)
    approve_as(qtbot, win, "dave", expiry="1h")
    unlock_at(qtbot, win, frame)
    panel = win.reveal
    qtbot.waitUntil(
        lambda: panel.current is not None and panel.current.index == frame, timeout=30000
    )
    return panel


def test_request_approve_reveal_and_lock_outside_scope(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    win = window
    login(qtbot, win, "alice")
    assert "alice (analyst)" in win.windowTitle()
    open_demo_evidence(qtbot, win)
    seek(qtbot, win, 12)
    assert len(win.video.view.boxes) == 3  # ROI boxes from the hidden message
    assert "3 ROI" in win.video.view.status_text
    request_id = file_request(qtbot, win, 10, 20)

    # self-approval: the button is disabled for alice and the core refuses too
    dialog = win.approval_dialog()
    assert dialog.selected.request.id == request_id
    assert not dialog.approve_button.isEnabled()
    assert "own request" in dialog.note.text()
    with pytest.raises(PermissionDenied):
        approve(win.context.ws, win.context.session, request_id)
    dialog.reject()

    approve_as(qtbot, win, "bob")
    assert [i.status for i in list_requests(win.context.ws)] == ["approved"]
    unlock_at(qtbot, win, 12)
    panel = win.reveal
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.index == 12, timeout=30000)
    assert len(panel.current.faces) == 3
    pictures = [
        w
        for w in panel.content.findChildren(QLabel)
        if w.pixmap() is not None and not w.pixmap().isNull()
    ]
    assert len(pictures) == 6  # public | reconstructed for each face
    assert sum(MARK_TEXT in w.toolTip() for w in pictures) == 3
    assert "expires in" in panel.countdown_label.text()

    panel.whole_check.setChecked(True)
    pictures = [
        w
        for w in panel.content.findChildren(QLabel)
        if w.pixmap() is not None and not w.pixmap().isNull()
    ]
    assert len(pictures) == 2
    panel.whole_check.setChecked(False)

    seek(qtbot, win, 25)  # outside the granted 10-20
    qtbot.waitUntil(
        lambda: panel.current is None and "outside grant" in panel.lock_reason, timeout=30000
    )
    assert panel.lock_label.isVisible()
    seek(qtbot, win, 15)
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.index == 15, timeout=30000)

    # exhibits and the PDF report, through the same core functions as the CLI
    exhibits = tmp_path / "exhibits"
    panel.save_frames(exhibits)
    qtbot.waitUntil(lambda: panel.last_written is not None, timeout=60000)
    assert (exhibits / "frame_000012_face_1_reconstructed.png").is_file()
    report, export = win.report_functions()
    pdf = tmp_path / "report.pdf"
    task = win.run_report_task("report", report, support.CASE, pdf)
    with qtbot.waitSignal(task.signals.result, timeout=60000):
        pass
    assert pdf.read_bytes().startswith(b"%PDF")
    bundle = tmp_path / "bundle.zip"
    task = win.run_report_task("export", export, support.CASE, bundle, "District Court")
    with qtbot.waitSignal(task.signals.result, timeout=60000) as blocker:
        pass
    assert "export" in blocker.args[0] and bundle.is_file()
    from forensics_app.core.report.verify_export import verify_export

    verify_export(bundle)  # raises if anything in the bundle does not verify
    actions = [row["action"] for row in win.context.ws.audit.entries()]
    assert "reveal" in actions and actions[-1] in ("disclosure", "report")


def test_expiry_locks_and_drops_the_decoder(qtbot, window: MainWindow) -> None:
    win = window
    panel = revealed_at(qtbot, win, 5)
    worker = panel.worker
    expires = panel.grant.expires_at
    panel.clock = lambda: expires + timedelta(seconds=1)
    panel.tick()
    assert panel.worker is None and panel.grant is None and panel.current is None
    assert "expired" in panel.lock_reason
    assert not worker.alive and worker.session is None  # decoder dropped with the session
    assert not panel.unlock_button.isEnabled()  # the expired grant is no longer offered


def test_wrong_passphrase_shows_error_and_unlocks_nothing(qtbot, window: MainWindow) -> None:
    win = window
    dialog = win.login_dialog("alice")
    dialog.passphrase_edit.setText("not-the-passphrase")
    qtbot.mouseClick(dialog.login_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error_label.text() != "", timeout=30000)
    assert "wrong passphrase for alice" in dialog.error_label.text()
    assert dialog.passphrase_edit.text() == ""
    assert win.context.session is None
    assert not win.request_action.isEnabled()
    rows = list(win.context.ws.audit.entries())
    assert rows[-1]["action"] == "login_failed" and rows[-1]["actor"] == "alice"


def test_audit_view_filters_verifies_and_names_a_tampered_row(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    view = win.audit
    view.refresh()
    total = view.proxy.rowCount()
    assert total >= 8
    view.filters["actor"].setCurrentText("alice")
    assert 0 < view.proxy.rowCount() < total
    view.filters["actor"].setCurrentText("(all)")
    view.filters["action"].setCurrentText("login")
    assert all(r["action"] == "login" for r in _visible(view))
    view.filters["action"].setCurrentText("(all)")
    qtbot.mouseClick(view.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.last_result is not None, timeout=30000)
    assert view.result_label.text().startswith("✓ log verifies")

    db = win.context.root / "workspace.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET justification='edited later' WHERE seq=3")
    qtbot.mouseClick(view.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.last_error is not None, timeout=30000)
    assert "entry 3" in view.last_error and view.model.bad_seq == 3
    assert view.result_label.text().startswith("✗")
    selected = view.table.selectionModel().selectedRows()
    assert selected and view.proxy.index(selected[0].row(), 0).data() == "3"


def _visible(view) -> list[dict]:
    return [
        view.model.rows[view.proxy.mapToSource(view.proxy.index(r, 0)).row()]
        for r in range(view.proxy.rowCount())
    ]


def test_deny_needs_a_reason_and_leaves_the_panel_locked(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    file_request(qtbot, win, 2, 8)
    login(qtbot, win, "bob")
    dialog = win.approval_dialog()
    assert not dialog.deny_button.isEnabled()  # a denial needs a reason
    dialog.reason_edit.setPlainText("authority reference does not cover this camera")
    assert not dialog.deny_button.isEnabled()  # and the supervisor's passphrase
    dialog.passphrase_edit.setText(support.PASSPHRASES["bob"])
    assert dialog.deny_button.isEnabled()
    qtbot.mouseClick(dialog.deny_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.denial is not None or dialog.note.text() != "", timeout=30000)
    assert dialog.denial is not None and dialog.denial["reason"].startswith("authority")
    assert "Denied" in dialog.result_label.text()
    assert [i.status for i in list_requests(win.context.ws)] == ["denied"]
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    assert not win.reveal.unlock_button.isEnabled()
    assert "no valid grant" in win.reveal.lock_reason


def test_flag_a_box_as_not_a_person(qtbot, window: MainWindow) -> None:
    """The reveal panel's "Not a person…" button logs a flag with the analyst's reason."""
    from forensics_app.core.custody.flags import box_flags

    win = window
    panel = revealed_at(qtbot, win)
    assert sorted(panel.flag_buttons) == [1, 2, 3]  # the GUI's face numbers, from 1
    asked: list[str] = []
    panel.ask_reason = lambda prompt: (asked.append(prompt), ("a traffic cone", True))[1]
    qtbot.mouseClick(panel.flag_buttons[2], Qt.MouseButton.LeftButton)
    assert "face 2" in asked[0]
    flags = box_flags(win.context.ws, panel.record.case_id)
    flag = flags[(panel.record.sha256, 12, 2)]
    assert (flag.reason, flag.by) == ("a traffic cone", "alice")
    assert not panel.flag_buttons[2].isEnabled() and panel.flag_buttons[1].isEnabled()
    captions = [w.text() for w in panel.content.findChildren(QLabel)]
    assert any("face 2" in c and "flagged: not a person (a traffic cone)" in c for c in captions)
    rows = [r for r in win.context.ws.audit.entries() if r["action"] == "flag"]
    assert len(rows) == 1 and rows[0]["actor"] == "alice"
