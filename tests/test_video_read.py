"""Reading video: probe facts, sequential decoding, exact random access, timestamps."""

from __future__ import annotations

import hashlib
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from forensics_app.core.video import MediaInfo, VideoReader, VideoWriter, probe
from forensics_app.errors import VideoError


@dataclass(frozen=True)
class Decoded:
    """A frame decoded sequentially, kept as a digest (300 full frames would be 400 MB)."""

    index: int
    pts: float
    digest: str
    shape: tuple[int, ...]
    damaged: bool


def digest(image: np.ndarray) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def sequential(sample_video: Path) -> list[Decoded]:
    """Every frame of the sample decoded sequentially (the reference for random access)."""
    with VideoReader(sample_video) as reader:
        return [Decoded(f.index, f.pts, digest(f.image), f.image.shape, f.damaged) for f in reader]


def test_probe_sample(sample_video: Path) -> None:
    info = probe(sample_video)
    assert (info.container, info.codec) == ("avi", "msmpeg4")
    assert (info.width, info.height, info.fps) == (768, 576, 10.0)
    assert (info.frame_count, info.frame_count_source) == (300, "packets")
    assert info.duration == pytest.approx(30.0)
    assert info.has_audio is False and info.constant_frame_rate is True
    assert MediaInfo.from_dict(info.to_dict()) == info


def test_probe_headers_only_says_where_the_count_comes_from(sample_video: Path) -> None:
    info = probe(sample_video, scan=False)
    assert (info.frame_count, info.frame_count_source) == (300, "header")


def test_sequential_decode_is_complete_and_bgr(
    sample_video: Path, sequential: list[Decoded]
) -> None:
    assert [f.index for f in sequential] == list(range(300))
    assert [f.pts for f in sequential[:3]] == pytest.approx([0.0, 0.1, 0.2])
    assert {f.shape for f in sequential} == {(576, 768, 3)}
    assert not any(f.damaged for f in sequential)
    assert len({f.digest for f in sequential}) > 290  # real, changing pictures
    with VideoReader(sample_video) as reader:
        image = next(iter(reader)).image
    assert image.dtype == np.uint8 and image.flags.c_contiguous
    # BGR order: the same picture through OpenCV's own decoder has the same channel order
    capture = cv2.VideoCapture(str(sample_video))
    ok, reference = capture.read()
    capture.release()
    assert ok and np.abs(image.astype(int) - reference.astype(int)).mean() < 1


def test_random_access_matches_sequential_decode(
    sample_video: Path, sequential: list[Decoded]
) -> None:
    # keyframes of the sample are 0 and 250: cover both GOPs, their edges and the last frame
    picks = [299, 0, 150, 249, 250, 251, 1, 298, 149]
    picks += random.Random(7).sample(range(300), 8)
    with VideoReader(sample_video) as reader:
        for index in picks:
            frame = reader.read(index)
            assert frame.index == index
            assert frame.pts == pytest.approx(sequential[index].pts)
            assert digest(frame.image) == sequential[index].digest, index
        for index in range(100, 104):  # forward reads continue without seeking
            assert digest(reader.read(index).image) == sequential[index].digest
        for index in range(140, 130, -1):  # stepping back (from the cache of recent frames)
            assert digest(reader.read(index).image) == sequential[index].digest


def test_frames_range_and_read_while_iterating(
    sample_video: Path, sequential: list[Decoded]
) -> None:
    with VideoReader(sample_video) as reader:
        got = []
        for frame in reader.frames(245, 255):
            got.append(frame.index)
            assert digest(frame.image) == sequential[frame.index].digest
            reader.read(10)  # random access must not disturb the iterator
        assert got == list(range(245, 255))
        assert list(reader.frames(299, 999))[0].index == 299
        assert list(reader.frames(5, 5)) == []


def test_timestamps_and_len(sample_video: Path) -> None:
    with VideoReader(sample_video) as reader:
        assert len(reader) == 300
        stamps = reader.timestamps()
    assert len(stamps) == 300 and stamps[-1] == pytest.approx(29.9)


def test_read_rejects_bad_indices(sample_video: Path) -> None:
    with VideoReader(sample_video) as reader:
        for bad in (-1, 300, 1.5, "3", True):
            with pytest.raises(VideoError, match="vtest_cut.avi"):
                reader.read(bad)  # type: ignore[arg-type]
    with pytest.raises(VideoError, match="closed"):
        reader.read(0)


def test_reading_leaves_the_file_untouched(sample_video: Path, tmp_path: Path) -> None:
    copy = tmp_path / "evidence.avi"
    copy.write_bytes(sample_video.read_bytes())
    os.chmod(copy, 0o444)  # read-only evidence must still open
    before = (copy.read_bytes(), copy.stat().st_mtime_ns)
    with VideoReader(copy) as reader:
        reader.read(120)
        next(iter(reader))
    probe(copy)
    assert (copy.read_bytes(), copy.stat().st_mtime_ns) == before


def test_variable_frame_rate_keeps_real_timestamps(tmp_path: Path) -> None:
    stamps = [0.0, 0.04, 0.5, 0.52, 1.3, 2.0]
    path = tmp_path / "vfr.mkv"
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in stamps]
    with VideoWriter(path, 64, 48, 25) as writer:  # the default time base keeps milliseconds
        for image, t in zip(images, stamps, strict=True):
            writer.write(image, pts=t)
    info = probe(path)
    assert info.constant_frame_rate is False and info.frame_count == 6
    with VideoReader(path) as reader:
        assert reader.timestamps() == pytest.approx(stamps)
        assert [f.pts for f in reader] == pytest.approx(stamps)
        frame = reader.read(4)
        assert frame.pts == pytest.approx(1.3) and np.array_equal(frame.image, images[4])


def test_stream_without_timestamps_falls_back_to_decode_order(
    tmp_path: Path, sample_video: Path
) -> None:
    path = tmp_path / "raw.h264"  # an elementary stream: packets carry no timestamps
    with (
        VideoReader(sample_video) as source,
        VideoWriter(path, 768, 576, 10, codec="h264", preset="ultrafast") as writer,
    ):
        for frame in source.frames(0, 6):
            writer.write(frame.image)
    with VideoReader(path) as reader:
        assert len(reader) == 6
        frames = list(reader)
        assert [f.index for f in frames] == list(range(6))
        assert np.array_equal(reader.read(4).image, frames[4].image)
        assert np.array_equal(reader.read(1).image, frames[1].image)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_b_frames_random_access_matches_sequential(
    tmp_path: Path, sample_video: Path, suffix: str
) -> None:
    """H.264 with B-frames: real pts (MP4, MKV) and decode-order times only (AVI)."""
    path = tmp_path / f"bframes{suffix}"
    with (
        VideoReader(sample_video) as source,
        VideoWriter(path, 256, 192, 10, codec="h264", preset="fast") as writer,
    ):
        for frame in source.frames(0, 40):
            writer.write(frame.image[200:392, 300:556].copy())
    with VideoReader(path) as reader:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no frame may look missing or damaged
            reference = [digest(f.image) for f in reader]
            assert len(reference) == len(reader) == 40
            assert reader.timestamps()[:3] == pytest.approx([0.0, 0.1, 0.2])
            for index in [39, 5, 6, 4, 20, 0, 33, 34, 32]:
                assert digest(reader.read(index).image) == reference[index], index


def test_an_all_keyframe_stream_is_read_at_random_exactly(
    sample_video: Path, tmp_path: Path
) -> None:
    """The public FFV1 stream: every frame a keyframe; random reads in any order return the
    frames sequential decoding gives."""
    path = tmp_path / "intra.mkv"
    with VideoReader(sample_video) as reader:
        originals = [f.image for f in reader.frames(0, 12)]
    writer = VideoWriter(path, originals[0].shape[1], originals[0].shape[0], 10, codec="ffv1")
    for image in originals:
        writer.write(image)
    writer.close()
    with VideoReader(path) as reader:
        for index in (11, 0, 7, 3, 10, 1):
            assert np.array_equal(reader.read(index).image, originals[index]), index
        assert all(np.array_equal(f.image, o) for f, o in zip(reader, originals, strict=True))
