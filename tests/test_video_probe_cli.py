"""``forensics probe``: JSON facts of a video, one line and exit 1 on bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from forensics_app.cli import main


def test_probe_prints_json(sample_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", str(sample_video)]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert out.startswith('{\n  "path"')  # indent 2
    assert report["sha256"] == hashlib.sha256(sample_video.read_bytes()).hexdigest()
    assert report["size"] == sample_video.stat().st_size
    media = report["media"]
    assert (media["width"], media["height"], media["frame_count"]) == (768, 576, 300)
    assert media["frame_count_source"] == "packets" and media["codec"] == "msmpeg4"


def test_probe_headers_only(sample_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--headers-only", str(sample_video)]) == 0
    assert json.loads(capsys.readouterr().out)["media"]["frame_count_source"] == "header"


@pytest.mark.parametrize("content", [b"", b"just some text\n" * 50, None])
def test_probe_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    assert main(["probe", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "bad.mp4" in lines[0] and lines[0].startswith("forensics: error:")
