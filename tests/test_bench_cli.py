"""`forensics bench`: its stages name real scripts, and bad input is a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics_app.benchrun import BENCH_DIR, STAGES
from forensics_app.cli import main


def test_every_stage_names_a_benchmark_script_that_takes_out() -> None:
    for name, (script, _) in STAGES.items():
        text = (BENCH_DIR / script).read_text(encoding="utf-8")
        assert '"--out"' in text, f"{name}: {script} has no --out option"


def test_unknown_stage_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--out", str(tmp_path / "b"), "--only", "nope"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("forensics: error: unknown benchmark 'nope'") and "\n" not in err
    assert not (tmp_path / "b").exists()
