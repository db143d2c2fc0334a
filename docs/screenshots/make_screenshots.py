"""Render the documentation screenshots of the desktop app, offscreen, through real widgets.

    python docs/screenshots/make_screenshots.py [--workspace DIR] [--frame N] [--out docs/screenshots]

Uses the demo workspace (``forensics_app.demo.build_demo``; built in a temporary folder when
``--workspace`` is not given) with its demo passphrases, and drives the same steps a user
does: alice opens DEMO-1 and scans it (main.png), picks the longest track on the lanes
under the scrubber (timeline_tracks.png), files an unlock request (request.png); bob
reviews it (approval.png) and approves; alice reveals (reveal.png, reveal_whole.png); the
audit log verifies (audit.png).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QRect, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def wait(app: QApplication, condition, timeout_s: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.005)


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def login(app: QApplication, win, name: str) -> None:
    from forensics_app.demo import demo_passphrase

    dialog = win.login_dialog(name)
    dialog.passphrase_edit.setText(demo_passphrase(name))
    dialog.try_login()
    wait(
        app,
        lambda: win.context.session is not None and win.context.session.name == name,
        what="login",
    )


def open_evidence(app: QApplication, win) -> None:
    before = win.video.player
    win.evidence.select_first_evidence("DEMO-1")
    win.evidence.open_selected()
    wait(
        app,
        lambda: win.video.player not in (None, before) and win.video.player.current is not None,
        what="evidence",
    )


def busiest_frame(win) -> int:
    """The frame whose hidden message names the most faces (after a scan)."""
    marks = win.video.marks
    return max(marks, key=lambda i: (len(marks[i].boxes), -abs(i - len(marks) // 2)))


def zoom_on_faces(app: QApplication, win, factor: float = 2.0) -> None:
    """Zoom the frame view onto the ROI boxes of the current frame, as a user would."""
    view = win.video.view
    boxes = view.boxes
    view.set_zoom(factor)
    if boxes:
        x = sum(b[0] + b[2] / 2 for b in boxes) / len(boxes)
        y = sum(b[1] + b[3] / 2 for b in boxes) / len(boxes)
        view.centerOn(x, y)
    settle(app)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--frame", type=int)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from forensics_app.demo import build_demo, is_demo_workspace
    from forensics_app.gui.app import load_style
    from forensics_app.gui.main_window import MainWindow

    load_style(app)
    root = args.workspace or Path(tempfile.mkdtemp(prefix="uunet-demo-")) / "demo"
    if not (root / "workspace.sqlite").is_file():
        build_demo(root)
    elif not is_demo_workspace(root):
        print(f"note: {root} is not a finished demo workspace; using it as it is")
    args.out.mkdir(parents=True, exist_ok=True)
    win = MainWindow()
    win.resize(1440, 900)
    win.show()
    win.open_workspace(root)
    login(app, win, "alice")
    open_evidence(app, win)
    task = win.video.start_scan()
    wait(app, lambda: task.is_done and win.video.scan_task is None, what="scan")
    frame = args.frame if args.frame is not None else busiest_frame(win)
    win.video.seek(frame)
    wait(app, lambda: win.video.player.current.index == frame, what="seek")
    zoom_on_faces(app, win)
    win.grab().save(str(args.out / "main.png"))
    lanes = win.video.lanes
    if lanes.tracks:  # one lane per track; the longest picked, its frames selected
        lanes.select_track(max(lanes.tracks, key=lambda t: t.count).track_id)
        settle(app)
        panel = win.video
        top = panel.timeline.mapTo(panel, panel.timeline.rect().topLeft()).y() - 4
        strip = QRect(0, top, panel.width(), panel.height() - top)
        panel.grab(strip).save(str(args.out / "timeline_tracks.png"))
        lanes.select_track(None)  # the request below is for every face in its range

    first, last = max(0, frame - 10), min(win.video.player.frame_count - 1, frame + 10)
    win.video.timeline.set_selection(first, last)
    dialog = win.request_dialog()
    dialog.reason_edit.setPlainText(
        "Identify the pedestrian who left the bag by the tripod (incident 2026-0117)."
    )
    dialog.authority_edit.setText("Warrant 2026/117, District Court")
    dialog.duration_combo.setCurrentText("24h")
    settle(app)
    dialog.grab().save(str(args.out / "request.png"))
    dialog.submit()

    login(app, win, "bob")
    approval = win.approval_dialog()
    wait(app, lambda: approval.thumbs.count() >= 3, what="thumbnails")
    from forensics_app.demo import demo_passphrase

    approval.expiry_combo.setCurrentText("8h")
    approval.reason_edit.setPlainText("Warrant 2026/117 seen; the range covers the bag drop only.")
    approval.passphrase_edit.setText(demo_passphrase("bob"))
    settle(app, 0.6)
    approval.grab().save(str(args.out / "approval.png"))
    approval.approve_selected()
    wait(app, lambda: approval.grant is not None or approval.note.text() != "", what="approval")
    settle(app)
    approval.grab().save(str(args.out / "approval_granted.png"))
    approval.accept()
    grants = win.grants_dialog()
    grants.select_grant(approval.grant.id)
    settle(app)
    grants.grab().save(str(args.out / "grants.png"))
    grants.accept()

    login(app, win, "alice")
    open_evidence(app, win)
    win.video.seek(frame)
    wait(app, lambda: win.video.player.current.index == frame, what="seek")
    panel = win.reveal
    wait(app, lambda: panel.unlock_button.isEnabled(), what="grant")
    panel.unlock_selected()
    wait(app, lambda: panel.current is not None and panel.current.index == frame, what="reveal")
    win.resizeDocks([win.reveal_dock], [520], Qt.Orientation.Horizontal)
    zoom_on_faces(app, win)
    win.grab().save(str(args.out / "reveal.png"))
    win.resizeDocks([win.reveal_dock], [900], Qt.Orientation.Horizontal)
    panel.whole_check.setChecked(True)
    settle(app)
    win.grab().save(str(args.out / "reveal_whole.png"))
    panel.whole_check.setChecked(False)

    win.audit_dock.show()
    win.resizeDocks([win.audit_dock], [330], Qt.Orientation.Vertical)
    win.audit.refresh()
    win.audit.verify()
    wait(
        app,
        lambda: win.audit.last_result is not None or win.audit.last_error is not None,
        what="verify",
    )
    win.audit.table.selectRow(win.audit.proxy.rowCount() - 1)  # its details, as fields
    settle(app)
    win.audit_dock.grab().save(str(args.out / "audit.png"))
    win.shutdown()
    names = ("main", "timeline_tracks", "request", "approval", "approval_granted", "grants", "reveal",
             "reveal_whole", "audit")  # fmt: skip
    for name in names:
        print(args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
