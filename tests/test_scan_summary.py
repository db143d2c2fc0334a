"""One ScanSummary (core.stego.scan) for the CLI's ``roi`` and the GUI's background scan."""

from __future__ import annotations

from forensics_app.core.stego.message import ExtractResult, RoiMessage
from forensics_app.core.stego.scan import FrameRois, ScanSummary
from forensics_app.gui import scan as gui_scan


def test_scan_summary_counts_statuses_and_the_faces_of_readable_messages() -> None:
    summary = ScanSummary()
    message = RoiMessage(7, 0, ((1, 2, 10, 12), (30, 4, 9, 9)))
    summary.add(FrameRois(0, ExtractResult("ok", message)))
    summary.add(FrameRois(1, ExtractResult("none", None)))
    summary.add(FrameRois(2, ExtractResult("damaged", None, "CRC mismatch")))
    summary.add(FrameRois(3, ExtractResult("ok", RoiMessage(7, 3, ()))))
    assert (summary.frames, summary.ok, summary.none, summary.damaged) == (4, 2, 1, 1)
    assert summary.faces == 2 and summary.seconds == 0.0
    assert summary.line() == "4 frames: 2 ok, 1 none, 1 damaged"


def test_the_gui_scan_returns_the_core_summary() -> None:
    assert gui_scan.ScanSummary is ScanSummary  # one class, not a look-alike
