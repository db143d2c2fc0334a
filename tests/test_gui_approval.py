"""Approval as a decision, grants with Revoke, and request status, through the real widgets.

A supervisor approves only with a reason of their own and their passphrase typed again (a
wrong one decides nothing and is a ``login_failed`` row); the grant id is shown; the Grants
view lists active and revoked grants and revokes with a reason; the analyst's reveal panel
says "pending since…", "denied by …: reason" or "approved by …"; a supervisor sees how many
requests wait for them.
"""

from __future__ import annotations

import json

import gui_support as support
from PySide6.QtCore import Qt
from test_gui_workflow import file_request, login, open_demo_evidence

from forensics_app.core.custody.unlock import (
    get_grant,
    grant_status,
    list_grants,
    list_requests,
    revocation,
)
from forensics_app.gui.main_window import MainWindow


def decide(qtbot, dialog, button, reason: str, passphrase: str) -> None:
    """Type the reason and passphrase, press ``button`` and wait for the worker's answer."""
    dialog.reason_edit.setPlainText(reason)
    dialog.passphrase_edit.setText(passphrase)
    assert button.isEnabled(), button.toolTip()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.decision_task is None, timeout=30000)


def test_approval_needs_reason_and_the_real_passphrase(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    request_id = file_request(qtbot, win, 10, 20)
    panel = win.reveal
    assert "pending since" in panel.requests_label.text()
    assert request_id in panel.requests_label.text()

    login(qtbot, win, "bob")
    assert win.waiting_requests() == 1
    assert "1 waiting" in win.review_action.text()  # the toolbar shows the count
    assert "1 unlock request(s) waiting" in win.statusBar().currentMessage()
    dialog = win.approval_dialog()
    qtbot.waitUntil(lambda: dialog.thumbs.count() == 3, timeout=30000)
    text = dialog.details.text()
    for part in ("alice", "analyst", "warrant 2026/117", "10–20", "bag near the tripod"):
        assert part in text
    dialog.reason_edit.setPlainText("warrant checked")
    assert not dialog.approve_button.isEnabled()  # no passphrase yet
    assert "passphrase" in dialog.approve_button.toolTip()

    # a wrong passphrase decides nothing and is logged as a failed login of bob
    decide(qtbot, dialog, dialog.approve_button, "warrant checked", "not-bobs-passphrase")
    assert dialog.grant is None and "Nothing decided" in dialog.note.text()
    assert "wrong passphrase" in dialog.note.text()
    assert dialog.passphrase_edit.text() == ""
    assert [i.status for i in list_requests(win.context.ws)] == ["pending"]
    rows = list(win.context.ws.audit.entries())
    assert rows[-1]["action"] == "login_failed" and rows[-1]["actor"] == "bob"

    decide(qtbot, dialog, dialog.approve_button, "warrant 2026/117 seen; range is narrow",
           support.PASSPHRASES["bob"])  # fmt: skip
    grant = dialog.grant
    assert grant is not None, dialog.note.text()
    assert grant.id in dialog.result_label.text() and "Approved" in dialog.result_label.text()
    assert grant.doc["approval_reason"] == "warrant 2026/117 seen; range is narrow"
    assert grant.approver == "bob"
    approval_row = next(
        r for r in reversed(list(win.context.ws.audit.entries())) if r["action"] == "approval"
    )
    details = json.loads(approval_row["details"])
    assert details["approval_reason"].startswith("warrant 2026/117 seen")
    assert dialog.selected is None and "No pending" in dialog.details.text()
    assert win.waiting_requests() == 0 and "waiting" not in win.review_action.text()
    dialog.accept()

    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    status = panel.requests_label.text()
    assert f"approved by bob — grant {grant.id}" in status and "expires" in status
    assert panel.unlock_button.isEnabled()


def test_deny_shows_the_reason_to_the_analyst(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    file_request(qtbot, win, 2, 8)
    login(qtbot, win, "dave")
    dialog = win.approval_dialog()
    decide(qtbot, dialog, dialog.deny_button, "the warrant does not cover this camera",
           support.PASSPHRASES["dave"])  # fmt: skip
    assert dialog.denial is not None and dialog.denial["by"] == "dave"
    assert "Denied" in dialog.result_label.text()
    dialog.accept()
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    assert (
        "denied by dave: the warrant does not cover this camera" in win.reveal.requests_label.text()
    )
    assert not win.reveal.unlock_button.isEnabled()


def test_an_analyst_cannot_decide_even_with_a_passphrase(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    file_request(qtbot, win, 0, 5)
    dialog = win.approval_dialog()
    dialog.reason_edit.setPlainText("looks fine to me")
    dialog.passphrase_edit.setText(support.PASSPHRASES["alice"])
    assert not dialog.approve_button.isEnabled() and not dialog.deny_button.isEnabled()
    assert "own request" in dialog.note.text()
    assert win.waiting_requests() == 0  # analysts are not counted as deciders


def test_grants_view_lists_and_revokes(qtbot, window: MainWindow) -> None:
    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    file_request(qtbot, win, 10, 20)
    file_request(qtbot, win, 21, 25)
    login(qtbot, win, "bob")
    dialog = win.approval_dialog()
    for _ in range(2):
        decide(qtbot, dialog, dialog.approve_button, "warrant checked", support.PASSPHRASES["bob"])
        assert dialog.grant is not None, dialog.note.text()
    dialog.accept()
    first, second = sorted(list_grants(win.context.ws), key=lambda g: g.frames)

    grants = win.grants_dialog()
    assert grants is not None and grants.table.rowCount() == 2
    statuses = {grants.table.item(r, 0).text(): grants.table.item(r, 7).text() for r in range(2)}
    assert statuses == {first.id: "active", second.id: "active"}
    assert grants.select_grant(first.id)
    assert "warrant checked" in grants.details.text()
    assert not grants.revoke_button.isEnabled()  # a revocation needs a reason
    grants.reason_edit.setText("warrant quashed on appeal")
    assert grants.revoke_button.isEnabled()
    qtbot.mouseClick(grants.revoke_button, Qt.MouseButton.LeftButton)
    assert grants.last_revocation is not None, grants.note.text()
    ws = win.context.ws
    assert revocation(ws, first.id)["reason"] == "warrant quashed on appeal"
    assert grant_status(ws, get_grant(ws, first.id)) == "revoked"
    assert grants.select_grant(first.id)
    assert grants.table.item(grants.table.currentRow(), 7).text() == "revoked"
    assert "revoked by bob" in grants.details.text()
    grants.reason_edit.setText("again")
    assert not grants.revoke_button.isEnabled()  # already revoked
    grants.show_combo.setCurrentText("active")
    assert grants.table.rowCount() == 1 and grants.table.item(0, 0).text() == second.id
    grants.accept()

    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    assert f"grant {first.id}, revoked" in win.reveal.requests_label.text()
    assert [win.reveal.grant_combo.itemData(i) for i in range(win.reveal.grant_combo.count())] == [
        second.id
    ]
    grants = win.grants_dialog()  # an analyst sees the list but cannot revoke
    assert grants.select_grant(second.id)
    grants.reason_edit.setText("I no longer need it")
    assert not grants.revoke_button.isEnabled() and "analyst" in grants.revoke_button.toolTip()


def test_expired_grant_is_listed_as_expired(qtbot, window: MainWindow) -> None:
    from datetime import timedelta

    win = window
    login(qtbot, win, "alice")
    open_demo_evidence(qtbot, win)
    file_request(qtbot, win, 3, 4)
    login(qtbot, win, "bob")
    dialog = win.approval_dialog()
    dialog.expiry_combo.setCurrentText("1h")
    decide(qtbot, dialog, dialog.approve_button, "ok", support.PASSPHRASES["bob"])
    grant = dialog.grant
    assert grant is not None
    ws = win.context.ws
    assert grant_status(ws, grant, grant.expires_at + timedelta(seconds=1)) == "expired"
    assert grant_status(ws, grant, grant.expires_at - timedelta(seconds=1)) == "active"
