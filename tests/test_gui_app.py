"""``forensics-app`` start-up: --screenshot renders a loaded window and exits; bad input
gives a one-line error and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import gui_support as support
import pytest
from PySide6.QtGui import QImage

from forensics_app.errors import InputError
from forensics_app.gui.app import main
from forensics_app.gui.timecode import format_timestamp, parse_position


def test_screenshot_of_a_case_at_a_frame(
    gui_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    root = support.copy_workspace(gui_template, tmp_path / "ws")
    monkeypatch.setenv("FORENSICS_PASSPHRASE", support.PASSPHRASES["alice"])
    out = tmp_path / "shots" / "main.png"
    code = main(
        ["--workspace", str(root), "--user", "alice", "--case", support.CASE, "--frame", "12",
         "--screenshot", str(out), "--size", "1200x800"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    image = QImage(str(out))
    assert image.width() >= 1200 and image.height() >= 800
    assert "loaded" in capsys.readouterr().out


def test_screenshot_with_a_wrong_passphrase_fails_with_one_line(
    gui_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    root = support.copy_workspace(gui_template, tmp_path / "ws")
    monkeypatch.setenv("FORENSICS_PASSPHRASE", "wrong-passphrase")
    code = main(
        ["--workspace", str(root), "--user", "alice", "--screenshot", str(tmp_path / "x.png")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == [
        "forensics-app: error: wrong passphrase for alice (failed attempt 1)"
    ]


def test_missing_workspace_fails(tmp_path: Path, capsys) -> None:
    code = main(["--workspace", str(tmp_path / "nowhere"), "--screenshot", str(tmp_path / "x.png")])
    assert code == 1
    assert "no workspace at" in capsys.readouterr().err


def test_timecodes() -> None:
    assert format_timestamp(3725.5) == "01:02:05.500"
    assert parse_position("01:02.5", fps=10, frame_count=1000) == 625
    assert parse_position("#7", fps=10, frame_count=10) == 7
    for bad in ("", "abc", "1:2:3:4", "-1", "10"):
        with pytest.raises(InputError):
            parse_position(bad, fps=10, frame_count=10)


def test_no_display_is_one_line_with_the_headless_alternative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from forensics_app.gui import app

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(app.sys, "platform", "linux")
    assert app.main(["--workspace", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no display" in err[0] and "--screenshot" in err[0]
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app.has_display()
