"""Issue #15 item 9, the rest: the audit view's verification follows its rows and its details
read as fields; reports and exports show their progress as a percentage."""

from __future__ import annotations

import json
from pathlib import Path

import gui_support as support
from test_gui_workflow import login

from forensics_app.gui.audit_view import COLUMNS, readable_details
from forensics_app.gui.main_window import MainWindow


def test_details_read_as_fields() -> None:
    details = json.dumps(
        {"frames": [10, 20], "tracks": [2], "evidence_sha256": "ab" * 32, "flagged": True,
         "recipients": ["alice", "bob"], "approval_reason": "checked"}
    )  # fmt: skip
    assert readable_details(details) == [
        ("approval reason", "checked"),
        ("evidence sha256", "abababababababab…"),
        ("flagged", "yes"),
        ("frames", "10–20"),
        ("recipients", "alice, bob"),
        ("tracks", "2"),
    ]
    assert readable_details(None) == [] and readable_details("not json") == [
        ("details", "not json")
    ]


def test_verification_follows_the_rows_and_the_selected_row_reads_in_full(
    qtbot, window: MainWindow
) -> None:
    win = window
    login(qtbot, win, "alice")
    view = win.audit
    win.audit_dock.show()  # shown: it verifies the rows it lists
    size = win.context.ws.audit.size()
    qtbot.waitUntil(lambda: view.verified_size == size, timeout=30000)
    assert view.result_label.text().startswith(f"✓ log verifies: {size} entries")

    login(qtbot, win, "bob")  # a login row more
    win.context.data_changed.emit()
    grown = win.context.ws.audit.size()
    assert grown > size
    qtbot.waitUntil(lambda: view.verified_size == grown, timeout=30000)
    assert view.result_label.text().startswith(f"✓ log verifies: {grown} entries")

    # hidden, the view says its result is behind instead of vouching for new rows
    win.audit_dock.hide()
    login(qtbot, win, "alice")
    win.context.data_changed.emit()
    assert "newer entries not verified yet" in view.result_label.text()
    win.audit_dock.show()
    qtbot.waitUntil(lambda: view.verified_size == win.context.ws.audit.size(), timeout=30000)

    details = [c for c, _ in COLUMNS].index("details")
    texts = [view.proxy.index(r, details).data() for r in range(view.proxy.rowCount())]
    assert texts and not any(t.startswith("{") for t in texts)  # fields, not JSON
    row = next(r for r, text in enumerate(texts) if "sha256" in text)
    action = view.proxy.index(row, [c for c, _ in COLUMNS].index("action")).data()
    view.table.selectRow(row)
    assert action in view.detail_label.text() and "sha256: <b>" in view.detail_label.text()


def test_report_and_export_show_a_percentage(qtbot, window: MainWindow, tmp_path: Path) -> None:
    win = window
    login(qtbot, win, "alice")
    report, export = win.report_functions()
    bar = win.report_progress_bar()
    for name, fn, out, extra in (
        ("report", report, tmp_path / "r.pdf", ()),
        ("export", export, tmp_path / "e.zip", ("District Court",)),
    ):
        seen: list[int] = []
        bar.valueChanged.connect(seen.append)
        task = win.run_report_task(name, fn, support.CASE, out, *extra)
        assert bar.isVisible() and bar.format() == f"{name}: %p%"
        with qtbot.waitSignal(task.signals.finished, timeout=60000):
            pass
        assert out.is_file(), name
        assert seen and seen[-1] == 100 and seen == sorted(seen), (name, seen)
        assert not bar.isVisible()
        bar.valueChanged.disconnect(seen.append)
    assert "export" in win.statusBar().currentMessage()
