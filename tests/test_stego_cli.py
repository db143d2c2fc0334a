"""``forensics roi``: the hidden message of every frame of a real video file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from stego_support import real_frames

from forensics_app.cli import main
from forensics_app.core.stego import RoiMessage, embed
from forensics_app.core.video import VideoWriter

KEY = b"camera key for the cli test"
BOXES = ((100, 120, 24, 30), (400, 200, 18, 22))


@pytest.fixture(scope="module")
def marked_video(sample_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six frames (lossless FFV1): 2 unmarked, 3 marked with KEY, 1 spliced (damaged)."""
    frames = real_frames(sample_video, 6)
    path = tmp_path_factory.mktemp("roi") / "marked.mkv"
    with VideoWriter(path, 640, 480, 10, codec="ffv1") as writer:
        writer.write(frames[0])
        writer.write(frames[1])
        for i in (2, 3, 4):
            writer.write(embed(frames[i], RoiMessage(9, i, BOXES), KEY))
        spliced = embed(frames[5], RoiMessage(9, 5, BOXES), KEY)
        other = embed(frames[5], RoiMessage(9, 6, BOXES[:1] * 2), KEY)
        spliced[:, 320:] = other[:, 320:]
        writer.write(spliced)
    return path


def _key_file(tmp_path: Path, key: bytes) -> str:
    path = tmp_path / "camera.key"
    path.write_bytes(key)
    return str(path)


def test_roi_json(marked_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roi", str(marked_video), "--json", "--key-file", _key_file(tmp_path, KEY)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["frame"] for row in rows] == list(range(6))
    assert [row["status"] for row in rows] == ["none", "none", "ok", "ok", "ok", "damaged"]
    for row in rows[2:5]:
        assert row["rois"] == [list(box) for box in BOXES]
        assert row["stream_id"] == 9 and row["message_frame"] == row["frame"]
    assert rows[0]["rois"] == [] and rows[5]["rois"] == []


def test_roi_wrong_key(
    marked_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["roi", str(marked_video), "--json", "--key-file", _key_file(tmp_path, b"x")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["status"] for row in rows] == ["none", "none"] + ["damaged"] * 4
    assert all(row["rois"] == [] for row in rows)


def test_roi_table(marked_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roi", str(marked_video)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["frame", "status", "n"]
    assert lines[3].split()[:4] == ["2", "ok", "2", "100,120,24,30"]
    assert lines[-1] == "6 frames: 3 ok, 2 none, 1 damaged"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.avi", None, "no such file"),
        ("bad.avi", b"not a video at all" * 100, "not a readable video"),
    ],
)
def test_roi_bad_video(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    expected: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["roi", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith("forensics: error:") and expected in err and "\n" not in err


def test_roi_bad_key_file(
    marked_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["roi", str(marked_video), "--key-file", str(tmp_path / "nope.key")]) == 1
    assert "cannot read key file" in capsys.readouterr().err
    assert main(["roi", str(marked_video), "--key-file", _key_file(tmp_path, b"")]) == 1
    assert "is empty" in capsys.readouterr().err


def test_roi_on_sample_reads_none(sample_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The public sample clip carries no message: every frame must read 'none'."""
    assert main(["roi", str(sample_video), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 300
    assert {row["status"] for row in rows} == {"none"}
    assert np.all([row["rois"] == [] for row in rows])


def test_roi_through_the_h264_writer(
    sample_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Messages written by the product's own H.264 writer (CRF 23) read back exactly."""
    frames = real_frames(sample_video, 10)
    path = tmp_path / "public.mp4"
    with VideoWriter(path, 640, 480, 10, codec="h264", crf=23) as writer:
        for i, frame in enumerate(frames):
            writer.write(embed(frame, RoiMessage(4, i, BOXES), KEY))
    assert main(["roi", str(path), "--json", "--key-file", _key_file(tmp_path, KEY)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["status"] for row in rows] == ["ok"] * 10
    assert all(row["rois"] == [list(box) for box in BOXES] for row in rows)
    assert [row["message_frame"] for row in rows] == list(range(10))
