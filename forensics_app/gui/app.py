"""Entry point of the ``forensics-app`` desktop program.

``forensics-app [--workspace DIR] [--demo] [--screenshot PATH]``: ``--demo`` opens the demo
workspace (building it in a temporary folder when no workspace is given), ``--screenshot``
renders the window offscreen once everything is loaded, saves a PNG and exits 0 — used for
the documentation and as a start-up check of a packaged build.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from forensics_app import RESOURCES_DIR, __version__

RESOURCES = RESOURCES_DIR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forensics-app", description="UU-Net Forensics desktop application"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--workspace", default=os.environ.get("FORENSICS_WORKSPACE"), help="workspace folder"
    )
    parser.add_argument(
        "--demo", action="store_true", help="open (building if needed) the demo workspace"
    )
    parser.add_argument("--user", help="log in as this user ($FORENSICS_PASSPHRASE, else a dialog)")
    parser.add_argument("--case", help="open the first evidence of this case after login")
    parser.add_argument("--video", type=Path, help="open this video (without a case)")
    parser.add_argument("--frame", type=int, default=None, help="show this frame first")
    parser.add_argument(
        "--scan", action="store_true", help="scan every frame's ROI message at start"
    )
    parser.add_argument("--screenshot", type=Path, help="render offscreen, save a PNG and exit")
    parser.add_argument("--size", default="1366x768", help="window size WxH (default 1366x768)")
    return parser


def load_style(app) -> None:  # QApplication
    """Apply resources/style.qss when it ships with this build."""
    qss = RESOURCES / "style.qss"
    if qss.is_file():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))


def _wait_until(app, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def has_display() -> bool:
    """Whether Qt can open a window here: a display server to talk to, or a platform plugin
    chosen explicitly (offscreen, vnc…). Without one Qt aborts the process with a plugin
    message a user cannot act on, so the caller says what to do instead."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform != "linux":
        return True  # Windows and macOS always have their native platform plugin
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    """Start the forensic desktop application; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif not has_display():
        print(
            "forensics-app: error: no display to open a window on (DISPLAY and WAYLAND_DISPLAY "
            "are unset); on a machine without a screen run it with --screenshot demo.png "
            "(offscreen) or under xvfb-run",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from PySide6.QtWidgets import QApplication

    from forensics_app.errors import ForensicsError
    from forensics_app.gui import collector
    from forensics_app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    collector.install(app)  # cyclic garbage collected on this thread only, between events
    app.setApplicationName("UU-Net Forensics")
    app.setApplicationVersion(__version__)
    load_style(app)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"forensics-app: error: --size must be WxH, not {args.size!r}", file=sys.stderr)
        return 2
    window = MainWindow()
    window.resize(width, height)
    started = time.monotonic()
    try:
        window.start(args)
    except ForensicsError as error:
        if args.screenshot is not None:
            print(f"forensics-app: error: {error}", file=sys.stderr)
            return 1
        window.show_error(str(error))
    window.show()
    if args.screenshot is None:
        return app.exec()
    loaded = _wait_until(app, window.is_loaded, timeout_s=120.0)
    _wait_until(app, lambda: False, timeout_s=0.3)  # let layouts and repaints settle
    args.screenshot.parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(args.screenshot), "PNG")
    seconds = time.monotonic() - started
    window.runner.cancel_all(wait_s=10.0)
    window.shutdown()
    if not ok:
        print(f"forensics-app: error: cannot write {args.screenshot}", file=sys.stderr)
        return 1
    state = "loaded" if loaded else "NOT fully loaded (timeout)"
    print(f"forensics-app: screenshot {args.screenshot} ({state}, {seconds:.2f} s)")
    if window.last_error is not None:
        print(f"forensics-app: error: {window.last_error}", file=sys.stderr)
        return 1
    return 0 if loaded else 1
