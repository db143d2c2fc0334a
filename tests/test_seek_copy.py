"""The seek copy of a long-GOP video: exact frames, every check with its tampered case."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from forensics_app.core import seek_copy
from forensics_app.core.evidence import sha256_file
from forensics_app.core.seek_copy import SeekCopy, SeekCopyError
from forensics_app.core.video import VideoReader

FRAMES = 48


def _encode(source: Path, target: Path, codec: str, pix_fmt: str, gop: int) -> Path:
    """The first FRAMES frames of ``source`` re-encoded with a keyframe every ``gop``."""
    with VideoReader(source) as reader, av.open(str(target), "w") as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = reader.info.width, reader.info.height, pix_fmt
        stream.options = {"crf": "28", "g": str(gop), "bf": "0", "preset": "ultrafast"}
        for frame in reader.frames(0, FRAMES):
            picture = av.VideoFrame.from_ndarray(frame.image, format="bgr24").reformat(
                format=pix_fmt
            )
            picture.pts, picture.time_base = frame.index, Fraction(1, 10)
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return target


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "seek-cache"
    monkeypatch.setenv(seek_copy.CACHE_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Path:
    folder = tmp_path_factory.mktemp("long-gop")
    return _encode(sample_video, folder / "gop.mp4", "libx264", "yuv420p", gop=FRAMES)


def _same_as_evidence(video: Path, copy: SeekCopy, indices: list[int]) -> None:
    with VideoReader(video) as reader:
        for index in indices:
            got, want = copy.read(index), reader.read(index)
            assert np.array_equal(got.image, want.image), index
            assert got.pts == want.pts and got.index == index


def test_every_frame_of_the_copy_is_the_evidence_frame(cache: Path, long_gop: Path) -> None:
    with VideoReader(long_gop) as reader:
        assert seek_copy.longest_gop(reader) == FRAMES
        assert seek_copy.worth_copying(reader) is None
    seen: list[tuple[int, int]] = []
    folder = seek_copy.build(long_gop, progress=lambda done, total: seen.append((done, total)))
    assert folder == cache / sha256_file(long_gop)
    assert seen[-1] == (2 * FRAMES, 2 * FRAMES)  # both passes counted
    assert sorted(p.name for p in cache.iterdir()) == [folder.name]  # no work folder left
    copy = SeekCopy(folder.name, FRAMES)
    try:
        _same_as_evidence(long_gop, copy, [47, 3, 40, 0, 25, 26, 8])
    finally:
        copy.close()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["gop"] == seek_copy.GOP and len(manifest["digests"]) == FRAMES
    with VideoReader(folder / "copy.mp4") as inside:  # short runs between keyframes
        assert seek_copy.longest_gop(inside) <= seek_copy.GOP


def test_a_video_stored_as_rgb_is_copied_as_bgr_and_still_exact(
    cache: Path, tmp_path: Path, sample_video: Path
) -> None:
    video = _encode(sample_video, tmp_path / "rgb.mkv", "libx264rgb", "bgr24", gop=FRAMES)
    folder = seek_copy.build(video)
    copy = SeekCopy(folder.name, FRAMES)
    try:
        _same_as_evidence(video, copy, [30, 1, 47])
    finally:
        copy.close()


def test_short_gops_and_switched_off_caches_get_no_copy(
    cache: Path, tmp_path: Path, sample_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = _encode(sample_video, tmp_path / "short.mp4", "libx264", "yuv420p", gop=12)
    with VideoReader(short) as reader:
        assert "already short" in (seek_copy.worth_copying(reader) or "")
    monkeypatch.setenv(seek_copy.CACHE_ENV, "off")
    with VideoReader(sample_video) as reader:
        assert "switched off" in (seek_copy.worth_copying(reader) or "")
    with pytest.raises(SeekCopyError, match="switched off"):
        seek_copy.build(sample_video)


def test_an_altered_copy_file_is_refused(cache: Path, long_gop: Path) -> None:
    folder = seek_copy.build(long_gop)
    data = bytearray((folder / "copy.mp4").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "copy.mp4").write_bytes(bytes(data))
    with pytest.raises(SeekCopyError, match="altered or damaged since it was built"):
        SeekCopy(folder.name, FRAMES)


def test_a_copy_rewritten_with_its_file_digest_still_fails_frame_by_frame(
    cache: Path,
    long_gop: Path,
    tmp_path: Path,
    sample_video: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attack: another video's copy put in place, the manifest's file digest updated to
    match. The per-frame digests of the evidence still refuse its frames."""
    folder = seek_copy.build(long_gop)
    other = _encode(sample_video, tmp_path / "other.mp4", "libx264", "yuv420p", gop=FRAMES // 2)
    monkeypatch.setenv(seek_copy.CACHE_ENV, str(tmp_path / "elsewhere"))
    forged = seek_copy.build(other)  # same size and count; from frame 24 on, other pixels
    monkeypatch.setenv(seek_copy.CACHE_ENV, str(cache))
    (folder / "copy.mp4").write_bytes((forged / "copy.mp4").read_bytes())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["copy_sha256"] = sha256_file(folder / "copy.mp4")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    copy = SeekCopy(folder.name, FRAMES)
    try:
        with pytest.raises(SeekCopyError, match="frame 30 does not match the evidence"):
            copy.read(30)
    finally:
        copy.close()


def test_a_copy_of_another_video_or_a_bad_manifest_is_refused(cache: Path, long_gop: Path) -> None:
    folder = seek_copy.build(long_gop)
    with pytest.raises(SeekCopyError, match="belongs to another video"):
        SeekCopy(folder.name, FRAMES + 1)
    with pytest.raises(SeekCopyError, match="no usable seek copy"):
        SeekCopy("0" * 64, FRAMES)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["digests"][-1]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SeekCopyError, match="does not cover every frame"):
        SeekCopy(folder.name, FRAMES)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(SeekCopyError, match="no usable seek copy"):
        SeekCopy(folder.name, FRAMES)


def test_a_cancelled_build_leaves_nothing(cache: Path, long_gop: Path) -> None:
    calls = iter(range(1000))
    with pytest.raises(SeekCopyError, match="cancelled"):
        seek_copy.build(long_gop, cancel=lambda: next(calls) >= 10)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_read_cost_counts_the_frames_a_read_decodes(long_gop: Path) -> None:
    with VideoReader(long_gop) as reader:
        assert reader.read_cost(40) == 41  # from the only keyframe
        reader.read(10)
        assert reader.read_cost(10) == 0  # cached
        assert reader.read_cost(12) == 2  # decoding on from 11


def test_the_cache_keeps_to_its_budget_least_recently_used_first(
    cache: Path, long_gop: Path, tmp_path: Path, sample_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = seek_copy.build(long_gop)
    other = _encode(sample_video, tmp_path / "other.mp4", "libx264", "yuv420p", gop=FRAMES // 2)
    second = seek_copy.build(other)
    os.utime(first / "manifest.json", (1, 1))  # first used long ago
    with VideoReader(long_gop) as reader:
        estimate = seek_copy.estimated_bytes(reader)
    used = sum(f.stat().st_size for d in (first, second) for f in d.iterdir())
    # room for what is there and one more estimate only when the oldest goes
    monkeypatch.setenv(seek_copy.BUDGET_ENV, str((used + estimate - 1) / 1024**3))
    assert seek_copy.make_room(estimate) == [first.name]
    assert second.is_dir() and not first.exists()
    SeekCopy(second.name, FRAMES).close()  # opening marks it used
    monkeypatch.setenv(seek_copy.BUDGET_ENV, str(estimate / 2 / 1024**3))
    with VideoReader(long_gop) as reader:
        assert "over the seek cache's" in (seek_copy.worth_copying(reader) or "")
