"""Bad input: a clear one-line VideoError naming the file, or a warning and carry on."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from forensics_app.core.video import DamagedFrameWarning, VideoReader, probe
from forensics_app.errors import VideoError


def _check_refused(path: Path, reason: str) -> None:
    for opener in (probe, VideoReader):
        with pytest.raises(VideoError, match=reason) as caught:
            opener(path)
        message = str(caught.value)
        assert path.name in message and "\n" not in message


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, np.uint8).tobytes())
    _check_refused(path, "not a readable video|no decodable video|no frame")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.avi"
    path.touch()
    _check_refused(path, "empty file")


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("Case notes, not a video.\n" * 200, encoding="utf-8")
    _check_refused(path, "not a readable video")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    _check_refused(tmp_path / "nowhere.avi", "no such file")
    folder = tmp_path / "clip.avi"
    folder.mkdir()
    _check_refused(folder, "folder")


def test_truncated_video(tmp_path: Path, sample_video: Path) -> None:
    data = sample_video.read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(data[: len(data) // 2])
    _check_refused(path, "truncated")
    # an analyst may still look at what is there, with a warning
    with pytest.warns(DamagedFrameWarning, match="truncated"):
        reader = VideoReader(path, allow_truncated=True)
    with reader, warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedFrameWarning)
        assert 100 < len(reader) < 300
        assert reader.read(len(reader) // 2).image.shape == (576, 768, 3)


def test_corrupt_frame_in_the_middle_warns_and_continues(
    tmp_path: Path, sample_video: Path
) -> None:
    data = bytearray(sample_video.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = (
        np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes()
    )
    path = tmp_path / "damaged.avi"
    path.write_bytes(bytes(data))
    with VideoReader(path) as reader:
        with pytest.warns(DamagedFrameWarning, match="damaged.avi"):
            frames = list(reader)
        assert frames[-1].index == 299 and len(frames) >= 290
        damaged = [f.index for f in frames if f.damaged]
        assert damaged and 100 < damaged[0] < 200
        with pytest.warns(DamagedFrameWarning):
            assert reader.read(damaged[0]).damaged
        with warnings.catch_warnings():
            warnings.simplefilter("error", DamagedFrameWarning)
            assert not reader.read(20).damaged  # frames before the damage read cleanly
