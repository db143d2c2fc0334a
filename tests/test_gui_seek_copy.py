"""The display's seek copy on the real sample (MPEG-4, a keyframe every 250 frames): far
frames come from the copy, are the evidence's frames, and a forged copy is caught."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from forensics_app.core import seek_copy
from forensics_app.core.evidence import sha256_file
from forensics_app.core.seek_copy import SeekCopy
from forensics_app.core.video import VideoReader
from forensics_app.gui.frame_source import FrameSource


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "seek-cache"
    monkeypatch.setenv(seek_copy.CACHE_ENV, str(folder))
    return folder


def _shown(qtbot, source: FrameSource, index: int) -> list:  # noqa: ANN001
    frames: list = []
    source.frame_ready.connect(frames.append)
    source.request(index)
    qtbot.waitUntil(lambda: any(f.index == index for f in frames), timeout=20000)
    return frames


def _ready_source(qtbot, video: Path, cache_mb: int) -> tuple[FrameSource, list[str]]:  # noqa: ANN001
    """A frame source without prefetch whose seek copy is ready, and its notices."""
    source = FrameSource(video, prefetch=False, cache_mb=cache_mb)
    notices: list[str] = []
    source.notice.connect(notices.append)
    qtbot.waitUntil(lambda: source.seek_copy_ready, timeout=30000)
    return source, notices


def _evidence_frame(video: Path, index: int) -> np.ndarray:
    with VideoReader(video) as reader:
        return reader.read(index).image


def test_far_frames_come_from_the_copy_and_are_the_evidence(
    qtbot, cache: Path, sample_video: Path
) -> None:
    source = FrameSource(sample_video, prefetch=False, cache_mb=0)
    notices: list[str] = []
    source.notice.connect(notices.append)
    try:
        qtbot.waitUntil(lambda: source.seek_copy_ready, timeout=120000)
        assert (cache / sha256_file(sample_video) / "manifest.json").is_file()
        reads: list[int] = []
        source.reader.read = lambda i, read=source.reader.read: reads.append(i) or read(i)
        frames = _shown(qtbot, source, 240)
        assert reads == []  # 240 frames past the keyframe: the copy served it
        assert np.array_equal(frames[-1].image, _evidence_frame(sample_video, 240))
        qtbot.waitUntil(lambda: reads == [240], timeout=10000)  # paused: compared
        assert source._copy is not None  # and it matched
    finally:
        source.close()
    qtbot.waitUntil(lambda: any("seek copy ready" in n for n in notices), timeout=5000)
    again = FrameSource(sample_video, prefetch=False, cache_mb=0)  # built once, found again
    try:
        qtbot.waitUntil(lambda: again.seek_copy_ready, timeout=30000)
    finally:
        again.close()
    building = [n for n in notices if "building" in n]
    assert building[0].endswith("random access…") and building[-1].endswith("90 %")
    assert len(building) == 10  # the start, then 10 … 90 %


def _forge(cache: Path, sample_video: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Put in the cache, under the sample's sha256, a copy of *other* pixels with a manifest
    forged to match them (file digest and every frame digest)."""
    other = tmp_path / "other.mp4"  # the sample re-encoded: same size and count, other pixels
    with VideoReader(sample_video) as reader, av.open(str(other), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        stream.options = {"crf": "35", "preset": "ultrafast"}
        for frame in reader.frames():
            picture = av.VideoFrame.from_ndarray(frame.image, format="bgr24")
            picture.pts, picture.time_base = frame.index, Fraction(1, 10)
            for packet in stream.encode(picture.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    _install_as_copy_of(other, sample_video, cache, tmp_path, monkeypatch)


def _install_as_copy_of(  # noqa: ANN202
    other: Path, sample_video: Path, cache: Path, tmp_path: Path, monkeypatch
):  # noqa: ANN001
    """Build ``other``'s seek copy elsewhere and put it in the cache as the sample's, its
    manifest naming the sample: the digests are ``other``'s, all consistent with the file.
    Returns the folder."""
    monkeypatch.setenv(seek_copy.CACHE_ENV, str(tmp_path / "forger"))
    forged = seek_copy.build(other)
    monkeypatch.setenv(seek_copy.CACHE_ENV, str(cache))
    target = cache / sha256_file(sample_video)
    target.mkdir(parents=True, exist_ok=True)
    (target / "copy.mp4").write_bytes((forged / "copy.mp4").read_bytes())
    manifest = json.loads((forged / "manifest.json").read_text())
    manifest["source_sha256"] = target.name
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_a_forged_copy_is_caught_when_the_user_pauses(
    qtbot, cache: Path, sample_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: a forged copy. The frame from it is shown for a moment; once scrubbing
    pauses it is decoded from the evidence, found different, the copy is dropped and the
    evidence's frame replaces it."""
    _forge(cache, sample_video, tmp_path, monkeypatch)
    source, notices = _ready_source(qtbot, sample_video, cache_mb=0)
    try:
        frames = _shown(qtbot, source, 240)
        evidence = _evidence_frame(sample_video, 240)
        assert not np.array_equal(frames[-1].image, evidence)  # the forgery, for a moment
        qtbot.waitUntil(lambda: len([f for f in frames if f.index == 240]) == 2, timeout=10000)
        assert np.array_equal(frames[-1].image, evidence)
        qtbot.waitUntil(
            lambda: any("frame 240 differs from the evidence" in n for n in notices), timeout=5000
        )
        assert source._copy is None and not source.seek_copy_ready
        frames.clear()  # from now on the evidence is decoded
        _shown(qtbot, source, 120)
        assert np.array_equal(frames[-1].image, _evidence_frame(sample_video, 120))
    finally:
        source.close()


def test_a_prefetched_frame_of_a_forged_copy_is_checked_when_shown(
    qtbot, cache: Path, sample_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy true to the evidence up to frame 219 and forged after: frame 200 from it
    passes its comparison; frame 230 of the copy, put in the cache as a prefetch from the
    copy would (prefetching normally decodes the evidence, which a confirmed frame leaves
    positioned), is compared too when shown from the cache, and caught."""
    from forensics_app.core.video import VideoWriter

    other = tmp_path / "half.mkv"  # lossless: frames 0-219 the sample's, the rest brighter
    with VideoReader(sample_video) as reader:
        writer = VideoWriter(other, 768, 576, reader.info.fps, codec="ffv1")
        for frame in reader.frames():
            image = frame.image if frame.index < 220 else frame.image // 2 + 64
            writer.write(image)
        writer.close()
    target = _install_as_copy_of(other, sample_video, cache, tmp_path, monkeypatch)

    source, notices = _ready_source(qtbot, sample_video, cache_mb=64)
    try:
        frames = _shown(qtbot, source, 200)
        assert frames[-1].from_copy
        qtbot.waitUntil(lambda: source._unconfirmed is None, timeout=20000)
        assert source._copy is not None and not any("dropped" in n for n in notices)
        forged_230 = SeekCopy(target.name, source.frame_count)
        try:
            cached = source._display(230, forged_230.read(230), 0.0, from_copy=True)
        finally:
            forged_230.close()
        with source._cond:
            source._cache[230] = cached
        frames = _shown(qtbot, source, 230)  # a cache hit from the copy
        qtbot.waitUntil(lambda: any("frame 230 differs" in n for n in notices), timeout=10000)
        assert np.array_equal(frames[-1].image, _evidence_frame(sample_video, 230))
        assert source._copy is None
    finally:
        source.close()
