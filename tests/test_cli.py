"""The CLI contract: every command of DESIGN.md §7 exists and bad input is one line."""

from __future__ import annotations

import subprocess
import sys

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
