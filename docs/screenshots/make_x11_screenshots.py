"""Screenshots of the desktop app on a real X server (Xvfb) at 1366×768, as issue #15 asks.

    python docs/screenshots/make_x11_screenshots.py [--workspace DIR] [--out docs/screenshots]

Without an X display the script runs itself again under
``xvfb-run -a -s "-screen 0 1366x768x24"`` with ``QT_QPA_PLATFORM=xcb``, so one command does
it all. Unlike ``make_screenshots.py`` (offscreen, widget grabs) every picture here is the
X server's whole 1366×768 root window (``QScreen.grabWindow(0)``): the main window sized to
the screen, a dialog where the X server put it over that window. What is cut off at this
screen size is cut off in the picture. There is no window manager, hence no title bars.

It builds the demo workspace (``forensics_app.demo.build_demo``, with the ``fast`` KDF
profile unless ``FORENSICS_KDF_PROFILE`` says otherwise) in ``--workspace`` (default: a new
temporary folder) and drives the real widgets as the analyst alice and the supervisor bob
would, in this order:

* alice logs in (``x11_login_demo``), scans DEMO-1 and picks a track on the lanes, zoomed
  in (``x11_main_tracks``); she files four requests: every face of a short range (D, used
  to flag a box), one track alone (A, ``x11_request_track``), a range to be denied (B) and
  one left pending (C);
* bob logs in and sees the waiting count (``x11_supervisor_waiting``), reviews A with his
  reason and passphrase (``x11_approval``) and sees the grant id (``x11_approval_granted``),
  denies B with a reason, approves D;
* alice reveals with D, flags a box as not a person (``x11_flag_ask``, ``x11_flag_done``;
  the demo has no false detection, so the reason says the flag is for the picture only)
  and saves D's frames; reveals with A, one track reconstructed and marked
  (``x11_reveal_track``, ``x11_reveal_whole``), saves A's frames;
* bob revokes D in the Grants view (``x11_grants_revoke``, ``x11_grants_revoked``);
* alice sees her requests' status (``x11_request_status``), writes the report and the
  court export with their percentage (``x11_report_progress``, ``x11_export_progress``;
  ``report.pdf`` and ``export.zip`` stay in the workspace folder); the audit log verifies
  with the selected row's details (``x11_audit``).

The names of the pictures written are printed, one a line, with their size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCREEN = (1366, 768)


def under_xvfb() -> int | None:
    """Run this script again under xvfb-run when there is no X display; its exit status,
    or None when this process already has one (and should go on)."""
    if os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") == "xcb":
        return None
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.exit("xvfb-run not found: apt-get install xvfb (the pictures need a real X server)")
    env = dict(os.environ, QT_QPA_PLATFORM="xcb")
    env.setdefault("FORENSICS_KDF_PROFILE", "fast")
    screen = f"-screen 0 {SCREEN[0]}x{SCREEN[1]}x24"
    command = [xvfb, "-a", "-s", screen, sys.executable, __file__, *sys.argv[1:]]
    return subprocess.call(command, env=env)


sys.path.insert(0, str(REPO))

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtWidgets import QApplication, QInputDialog  # noqa: E402

REQUEST_REASON = "Identify the man in the dark jacket who left the bag by the tripod."
AUTHORITY = "Warrant 2026/117, District Court"
FLAG_REASON = "DEMO ONLY: a real face, flagged to show this step (the demo has no false box)"


class Shooter:
    """Takes the X server's whole screen into ``out``/x11_<name>.png."""

    def __init__(self, app: QApplication, out: Path) -> None:
        self.app = app
        self.out = out
        self.taken: list[Path] = []

    def settle(self, seconds: float = 0.4) -> None:
        """Let Qt paint and the X server draw for ``seconds``."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def wait(self, condition: Callable[[], object], what: str, timeout_s: float = 90.0) -> None:
        """Process events until ``condition()`` is true; TimeoutError naming ``what``."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            self.app.processEvents()
            time.sleep(0.005)

    def shot(self, name: str, settle_s: float = 0.5) -> Path:
        """The root window as the X server holds it now (1366×768, nothing scaled)."""
        self.settle(settle_s)
        screen = QGuiApplication.primaryScreen()
        pixmap = screen.grabWindow(0)
        if (pixmap.width(), pixmap.height()) != SCREEN:
            raise RuntimeError(f"screen is {pixmap.width()}×{pixmap.height()}, not {SCREEN}")
        path = self.out / f"x11_{name}.png"
        pixmap.save(str(path), "PNG", 0)  # quality 0: smallest lossless file
        self.taken.append(path)
        return path


def login(s: Shooter, win, name: str, shoot: str | None = None) -> None:
    """Log ``name`` in through the login dialog (its picture first when ``shoot``)."""
    from forensics_app.demo import demo_passphrase

    dialog = win.login_dialog(name)
    dialog.passphrase_edit.setText(demo_passphrase(name))
    if shoot:
        s.shot(shoot)
    dialog.try_login()
    s.wait(lambda: win.context.session is not None and win.context.session.name == name, "login")
    s.settle(0.3)


def open_evidence(s: Shooter, win) -> None:
    """Verify and open DEMO-1's evidence, as the Case panel's button does."""
    before = win.video.player
    win.evidence.select_first_evidence("DEMO-1")
    win.evidence.open_selected()
    s.wait(
        lambda: win.video.player not in (None, before) and win.video.player.current is not None,
        "evidence",
    )


def seek(s: Shooter, win, frame: int) -> None:
    win.video.seek(frame)
    s.wait(lambda: win.video.player.current.index == frame, f"frame {frame}")


def zoom_on(s: Shooter, win, boxes, factor: float = 2.0) -> None:
    """Zoom the frame view to ``factor`` centred on ``boxes`` (x, y, w, h)."""
    view = win.video.view
    view.set_zoom(factor)
    if boxes:
        x = sum(b[0] + b[2] / 2 for b in boxes) / len(boxes)
        y = sum(b[1] + b[3] / 2 for b in boxes) / len(boxes)
        view.centerOn(x, y)
    s.settle()


def file_request(s: Shooter, win, frames: tuple[int, int], track: int | None,
                 reason: str, shoot: str | None = None) -> str:  # fmt: skip
    """File an unlock request for ``frames`` (one ``track`` alone, or every face)."""
    win.video.lanes.select_track(track)
    win.video.timeline.set_selection(*frames)
    dialog = win.request_dialog()
    dialog.reason_edit.setPlainText(reason)
    dialog.authority_edit.setText(AUTHORITY)
    dialog.duration_combo.setCurrentText("24h")
    if shoot:
        s.shot(shoot)
    dialog.submit()
    if dialog.request is None:
        raise RuntimeError(f"request refused: {dialog.error_label.text()}")
    return dialog.request.id


def decide(s: Shooter, dialog, request_id: str, approve: bool, reason: str,
           shoot: tuple[str, str] | None = None) -> None:  # fmt: skip
    """Bob's decision on ``request_id`` with his reason and passphrase typed again."""
    from forensics_app.demo import demo_passphrase

    row = next(i for i, info in enumerate(dialog.infos) if info.request.id == request_id)
    dialog.request_list.setCurrentRow(row)
    s.wait(lambda: dialog.thumbs.count() >= 3, "thumbnails")
    dialog.reason_edit.setPlainText(reason)
    dialog.expiry_combo.setCurrentText("8h")
    dialog.passphrase_edit.setText(demo_passphrase("bob"))
    if shoot:
        s.shot(shoot[0], 0.8)
    before = (dialog.grant, dialog.denial)
    (dialog.approve_selected if approve else dialog.deny_selected)()
    s.wait(lambda: (dialog.grant, dialog.denial) != before or dialog.note.text(), "decision")
    if dialog.note.text():
        raise RuntimeError(f"decision refused: {dialog.note.text()}")
    if shoot:
        s.shot(shoot[1])


def unlock(s: Shooter, win, grant_id: str, frame: int) -> None:
    """Open the reveal with ``grant_id`` at ``frame`` and wait for its faces."""
    panel = win.reveal
    if panel.worker is not None:  # another grant's reveal is open: close it first
        panel.lock("switching grant")
    s.wait(lambda: panel.unlock_button.isEnabled(), "a grant")
    combo = panel.grant_combo
    combo.setCurrentIndex(next(i for i in range(combo.count()) if combo.itemData(i) == grant_id))
    seek(s, win, frame)
    panel.unlock_selected()
    s.wait(lambda: panel.current is not None and panel.current.index == frame, "reveal")
    s.settle()


def save_frames(s: Shooter, win, folder: Path) -> None:
    """Write the grant's frames as exhibits (the reveal panel's "Save frames…")."""
    panel = win.reveal
    panel.last_written = None
    panel.save_frames(folder)
    s.wait(lambda: panel.last_written is not None, "revealed frames written", 600)


def flag_with_dialog(s: Shooter, win, face: int, reason: str) -> None:
    """Flag ``face`` as not a person: the same input dialog the panel opens, shown without
    its blocking exec() so it can be photographed with the reason typed."""
    panel = win.reveal

    def ask(prompt: str) -> tuple[str, bool]:
        dialog = QInputDialog(panel)
        dialog.setWindowTitle("Not a person")
        dialog.setLabelText(prompt)
        dialog.setTextValue(reason)
        dialog.show()
        s.shot("flag_ask")
        dialog.close()
        return reason, True

    panel.ask_reason = ask
    panel.flag_face(face)
    panel.ask_reason = panel._ask_reason


def catch_progress(s: Shooter, win, name: str, fn, case_id: str, out: Path, *extra) -> None:
    """Run a report or export as the menu does and take the screen once the status bar's
    percentage, as painted, is between 5 and 95 (if the work is slow enough to be caught)."""
    bar = win.report_progress_bar()
    task = win.run_report_task(name, fn, case_id, out, *extra)
    caught = False
    deadline = time.monotonic() + 600
    while not task.is_done:
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for the {name}")
        s.app.processEvents()  # paints the bar at its current value
        if not caught and 5 <= bar.value() <= 95:
            s.shot(f"{name}_progress", 0.0)
            caught = True
        time.sleep(0.005)
    s.settle(0.3)
    if not caught:
        print(f"note: the {name}'s progress was too quick to be caught", file=sys.stderr)
    if not out.is_file():
        raise RuntimeError(f"{name} not written: {win.statusBar().currentMessage()}")


def main() -> int:
    rerun = under_xvfb()
    if rerun is not None:
        return rerun
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    if app.platformName() != "xcb":
        sys.exit(f"Qt platform is {app.platformName()!r}, not xcb: run without QT_QPA_PLATFORM")
    from forensics_app.demo import build_demo, is_demo_workspace
    from forensics_app.gui.app import load_style
    from forensics_app.gui.main_window import MainWindow

    load_style(app)
    root = args.workspace or Path(tempfile.mkdtemp(prefix="uunet-x11-")) / "demo"
    if not (root / "workspace.sqlite").is_file():
        build_demo(root)
    elif not is_demo_workspace(root):
        print(f"note: {root} is not a finished demo workspace; using it as it is")
    args.out.mkdir(parents=True, exist_ok=True)
    s = Shooter(app, args.out)

    win = MainWindow()
    win.setGeometry(QGuiApplication.primaryScreen().availableGeometry())
    win.show()
    s.settle(0.5)
    if (win.width(), win.height()) != SCREEN:
        print(f"note: the window is {win.width()}×{win.height()} on a {SCREEN} screen")
    win.open_workspace(root)
    login(s, win, "alice", shoot="login_demo")
    open_evidence(s, win)
    task = win.video.start_scan()
    s.wait(lambda: task.is_done and win.video.scan_task is None, "scan")
    lanes = win.video.lanes
    track = max(lanes.tracks, key=lambda t: t.count)  # the longest track
    frame = track.first + min(30, (track.last - track.first) // 2)
    seek(s, win, frame)
    lanes.select_track(track.track_id)
    win.video.timeline.set_selection(frame - 10, frame + 10)
    zoom_on(s, win, win.video.view.picked_boxes or win.video.marks[frame].boxes)
    s.shot("main_tracks")

    # D: every face of frames 36-43, where a short track starts (used to flag a box)
    d_frames = (36, 43)
    d_id = file_request(s, win, d_frames, None, "Check the boxes by the sign (frames 36-43).")
    a_id = file_request(s, win, (frame - 10, frame + 10), track.track_id, REQUEST_REASON,
                        shoot="request_track")  # fmt: skip
    b_id = file_request(s, win, (60, 70), None, "Everyone crossing after the bag drop.")
    file_request(s, win, (80, 85), None, "The same man leaving, seen from behind.")

    login(s, win, "bob")
    s.shot("supervisor_waiting")
    approval = win.approval_dialog()
    decide(s, approval, a_id, True, "Warrant 2026/117 seen; one person, 21 frames only.",
           shoot=("approval", "approval_granted"))  # fmt: skip
    a_grant = approval.grant.id
    decide(s, approval, b_id, False, "No authority covers bystanders; ask for one track.")
    decide(s, approval, d_id, True, "Short range to check false boxes near the sign.")
    d_grant = approval.grant.id
    approval.accept()

    login(s, win, "alice")
    open_evidence(s, win)
    exhibits = root / "exhibits"
    unlock(s, win, d_grant, 40)
    # The demo's head finder puts no box on a cone or a sign (every box of frames 0-99 was
    # looked at): the flag step is shown on the shortest track's box, and its reason says so.
    shortest = min((t for t in lanes.tracks if t.first <= 40 <= t.last), key=lambda t: t.count)
    number = win.video.track_ids[40].index(shortest.track_id) + 1  # face numbers from 1
    face = next(f for f in win.reveal.current.faces if f.index == number)
    zoom_on(s, win, [face.box], 3.0)
    flag_with_dialog(s, win, face.index, FLAG_REASON)
    s.settle(0.3)  # the panel lays the flagged row out, then scrolls to it as a user would
    win.reveal.scroll.ensureWidgetVisible(win.reveal.flag_buttons[face.index], 50, 200)
    s.shot("flag_done")
    save_frames(s, win, exhibits / "grant_D")
    unlock(s, win, a_grant, frame)
    zoom_on(s, win, [f.box for f in win.reveal.current.faces])  # the track's face
    s.shot("reveal_track")
    # whole frames side by side need room: at 1366 px the user closes the case panel and
    # drags the reveal panel wider (with both panels open each frame is ~170 px wide)
    dock_width = win.reveal_dock.width()
    win.evidence_dock.hide()
    win.resizeDocks([win.reveal_dock], [700], Qt.Orientation.Horizontal)
    win.reveal.whole_check.setChecked(True)
    s.shot("reveal_whole")
    win.reveal.whole_check.setChecked(False)
    win.evidence_dock.show()
    win.resizeDocks([win.reveal_dock], [dock_width], Qt.Orientation.Horizontal)
    save_frames(s, win, exhibits / "grant_A")
    win.reveal.lock("locked by the user")

    login(s, win, "bob")
    grants = win.grants_dialog()
    grants.select_grant(d_grant)
    grants.reason_edit.setText("The flagged box is logged; the range is no longer needed.")
    s.shot("grants_revoke")
    grants.revoke_selected()
    grants.select_grant(d_grant)
    s.shot("grants_revoked")
    grants.accept()

    login(s, win, "alice")
    open_evidence(s, win)
    seek(s, win, frame)
    s.shot("request_status")
    report, export = win.report_functions()
    catch_progress(s, win, "report", report, "DEMO-1", root / "report.pdf")
    catch_progress(s, win, "export", export, "DEMO-1", root / "export.zip", "District Court")

    win.audit_dock.show()
    win.resizeDocks([win.audit_dock], [300], Qt.Orientation.Vertical)
    win.audit.refresh()
    win.audit.verify()
    s.wait(lambda: win.audit.last_result is not None or win.audit.last_error is not None, "verify")
    rows = win.audit.proxy.rowCount()
    flag_row = next(
        (r for r in range(rows) if win.audit.proxy.index(r, 4).data() == "flag"), rows - 1
    )
    win.audit.table.selectRow(flag_row)
    s.shot("audit")
    win.shutdown()
    for path in s.taken:
        print(f"{path}  {path.stat().st_size // 1024} KB")
    print(f"workspace: {root} (report.pdf, export.zip, exhibits/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
