"""The CLI contract: every command of DESIGN.md §7 exists and bad input is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from forensics_app.cli import build_parser, main

CONTRACT = [
    "demo",
    "deidentify",
    "roi",
    "train",
    "seal",
    "user",
    "case",
    "evidence",
    "request",
    "approve",
    "deny",
    "reveal",
    "report",
    "export",
    "verify-log",
    "verify-export",
    "eval",
    "bench",
    "probe",
]


def test_help_lists_every_contract_command() -> None:
    text = build_parser().format_help()
    for name in CONTRACT:
        assert name in text, name


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2


def test_console_script_runs_as_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "forensics_app.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "verify-export" in out.stdout


def test_a_command_whose_extra_is_missing_names_it_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`forensics eval` on an install without the 'eval' extra: one line naming the extra,
    not a traceback (the runtime itself does not need scikit-image, dlib or matplotlib)."""
    import sys

    for name in list(sys.modules):
        if name.startswith(("forensics_app.uunet.evaluation", "skimage")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "skimage", None)  # as if scikit-image were not installed
    code = main(["eval", "--models", "models", "--data", str(tmp_path), "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err == (
        "forensics: error: this command needs the 'eval' extra (skimage is not installed): "
        "pip install 'uunet-forensics[eval]' (or -e '.[eval]' in a checkout)"
    )


def test_a_missing_module_of_the_runtime_itself_is_not_blamed_on_an_extra() -> None:
    from forensics_app.cli import missing_extra

    assert missing_extra(ModuleNotFoundError("no", name="numpy")) is None
    assert "'postgresql' extra" in str(missing_extra(ModuleNotFoundError("no", name="psycopg.pq")))


def test_deidentify_takes_chroma_420_by_default_and_444_on_request() -> None:
    parser = build_parser()
    assert parser.parse_args(["deidentify", "in.mp4", "--out", "o.mkv"]).chroma == "420"
    args = parser.parse_args(["deidentify", "in.mp4", "--out", "o.mkv", "--chroma", "444"])
    assert args.chroma == "444"
    with pytest.raises(SystemExit):
        parser.parse_args(["deidentify", "in.mp4", "--out", "o.mkv", "--chroma", "422"])
