"""Writing video: bit-exact FFV1, H.264 at a CRF, atomic output, audio copied unchanged."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from forensics_app.core.video import VideoReader, VideoWriter, probe
from forensics_app.errors import VideoError


def _noise(width: int, height: int, n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(n)]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize(("width", "height"), [(640, 480), (767, 575)])
def test_ffv1_round_trip_is_bit_exact(tmp_path: Path, width: int, height: int) -> None:
    images = _noise(width, height, 3, seed=width)
    images.append(np.zeros((height, width, 3), np.uint8))
    images.append(np.full((height, width, 3), 255, np.uint8))
    path = tmp_path / f"lossless_{width}x{height}.mkv"
    with VideoWriter(path, width, height, 10, codec="ffv1") as writer:
        for image in images:
            writer.write(image)
    with VideoReader(path) as reader:
        assert (reader.info.width, reader.info.height, len(reader)) == (width, height, 5)
        decoded = [f.image for f in reader]
        assert np.array_equal(reader.read(2).image, images[2])
    assert all(np.array_equal(a, b) for a, b in zip(images, decoded, strict=True))


def _sample_frames(sample_video: Path, n: int) -> list[np.ndarray]:
    with VideoReader(sample_video) as reader:
        return [f.image for f in reader.frames(0, n)]


@pytest.mark.parametrize(("width", "height"), [(384, 288), (383, 287)])
def test_h264_writes_a_readable_file_at_the_crf(
    tmp_path: Path, sample_video: Path, width: int, height: int
) -> None:
    images = [im[:height, :width].copy() for im in _sample_frames(sample_video, 8)]
    sizes = {}
    for crf in (18, 40):
        path = tmp_path / f"h264_crf{crf}.mp4"
        with VideoWriter(path, width, height, 10, codec="h264", crf=crf, preset="ultrafast") as w:
            for image in images:
                w.write(image)
        sizes[crf] = path.stat().st_size
        info = probe(path)
        assert (info.codec, info.width, info.height, info.frame_count) == (
            "h264",
            width,
            height,
            8,
        )
        assert info.pix_fmt == ("yuv420p" if width % 2 == 0 else "yuv444p")
        with VideoReader(path) as reader:
            decoded = [f.image for f in reader]
        quality = min(_psnr(a, b) for a, b in zip(images, decoded, strict=True))
        assert quality > (38 if crf == 18 else 24), (crf, quality)
    assert sizes[40] < sizes[18] / 2  # the CRF really reaches the encoder


class _Boom(RuntimeError):
    pass


@pytest.mark.parametrize("error", [_Boom, KeyboardInterrupt])
def test_exception_mid_write_leaves_no_file(tmp_path: Path, error: type[BaseException]) -> None:
    path = tmp_path / "out.mkv"
    with pytest.raises(error):
        with VideoWriter(path, 32, 24, 5) as writer:
            for image in _noise(32, 24, 3):
                writer.write(image)
            partial = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.partial-")]
            assert len(partial) == 1 and not path.exists()  # bytes go to a temp file only
            raise error
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]


def test_abort_keeps_an_older_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "out.mkv"
    path.write_bytes(b"previous result")
    writer = VideoWriter(path, 32, 24, 5)
    writer.write(_noise(32, 24, 1)[0])
    assert not path.read_bytes().startswith(b"\x1a\x45")  # nothing under the name yet
    writer.abort()
    assert path.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out.mkv"]


def test_close_moves_the_file_into_place(tmp_path: Path) -> None:
    path = tmp_path / "done.avi"
    writer = VideoWriter(path, 33, 17, 7.5)
    for image in _noise(33, 17, 4):
        writer.write(image)
    assert not path.exists()
    writer.close()
    assert probe(path).frame_count == 4 and probe(path).fps == pytest.approx(7.5)


def test_writer_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="folder .*missing.* does not exist"):
        VideoWriter(tmp_path / "missing" / "out.mkv", 32, 24, 5)
    with pytest.raises(VideoError, match="unknown codec"):
        VideoWriter(tmp_path / "out.mkv", 32, 24, 5, codec="vp9")
    for fps in (0, -5, float("nan"), "fast"):
        with pytest.raises(VideoError, match="frame rate"):
            VideoWriter(tmp_path / "out.mkv", 32, 24, fps)  # type: ignore[arg-type]
    with pytest.raises(VideoError, match="CRF"):
        VideoWriter(tmp_path / "out.mp4", 32, 24, 5, codec="h264", crf=80)
    with VideoWriter(tmp_path / "out.mkv", 32, 24, 5) as writer:
        with pytest.raises(VideoError, match="uint8 24x32x3"):
            writer.write(np.zeros((24, 31, 3), np.uint8))
        with pytest.raises(VideoError, match="uint8"):
            writer.write(np.zeros((24, 32, 3), np.float32))
        writer.write(np.zeros((24, 32, 3), np.uint8), pts=1.0)
        with pytest.raises(VideoError, match="increase"):
            writer.write(np.zeros((24, 32, 3), np.uint8), pts=0.5)
    with pytest.raises(VideoError, match="no frames"):
        VideoWriter(tmp_path / "empty.mkv", 32, 24, 5).close()
    assert not (tmp_path / "empty.mkv").exists()


def _video_with_audio(path: Path) -> None:
    """A small MKV with an FFV1 video and a FLAC tone, built with PyAV."""
    container = av.open(str(path), "w")
    video = container.add_stream("ffv1", rate=10)
    video.width, video.height, video.pix_fmt = 64, 48, "bgr0"
    audio = container.add_stream("flac", rate=8000)
    audio.layout = "mono"
    for i in range(10):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), "bgr24")
        frame.pts = i
        for packet in video.encode(frame):
            container.mux(packet)
    tone = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 9000).astype(np.int16)
    for start in range(0, 8000, 1000):
        frame = av.AudioFrame.from_ndarray(tone[None, start : start + 1000].copy(), "s16", "mono")
        frame.sample_rate, frame.pts = 8000, start
        for packet in audio.encode(frame):
            container.mux(packet)
    for stream in (video, audio):
        for packet in stream.encode(None):
            container.mux(packet)
    container.close()


def _audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def test_audio_is_copied_unchanged(tmp_path: Path, sample_video: Path) -> None:
    source = tmp_path / "with_audio.mkv"
    _video_with_audio(source)
    out = tmp_path / "derived.mkv"
    with VideoWriter(out, 64, 48, 10, audio_from=source) as writer:
        for image in _noise(64, 48, 10):
            writer.write(image)
    info = probe(out)
    assert info.has_audio and info.audio_codec == "flac" and info.frame_count == 10
    assert _audio_packets(out) == _audio_packets(source) != []
    silent = tmp_path / "silent.mkv"  # a source without audio just adds none
    with VideoWriter(silent, 64, 48, 10, audio_from=sample_video) as writer:
        writer.write(_noise(64, 48, 1)[0])
    assert probe(silent).has_audio is False


def test_h264_chroma_444_keeps_colour_at_full_resolution(
    tmp_path: Path, sample_video: Path
) -> None:
    """``chroma="444"`` writes yuv444p; a 1-px colour pattern survives it and not 4:2:0."""
    base = _sample_frames(sample_video, 2)
    images = []
    for image in base:
        image = image[:96, :128].copy()
        image[::2, :, 2] = 250  # every other row strongly red: colour detail at 1 px
        images.append(image)
    chroma_error = {}
    for chroma in ("420", "444"):
        path = tmp_path / f"c{chroma}.mkv"
        with VideoWriter(path, 128, 96, 10, codec="h264", crf=0, chroma=chroma) as w:
            for image in images:
                w.write(image)
        assert probe(path).pix_fmt == f"yuv{chroma}p"
        with VideoReader(path) as reader:
            decoded = [f.image for f in reader]
        chroma_error[chroma] = np.mean(
            [np.abs(a.astype(int) - b).mean() for a, b in zip(images, decoded, strict=True)]
        )
    assert chroma_error["444"] < 1.5 < 5 < chroma_error["420"], chroma_error


def test_unknown_chroma_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(VideoError, match="unknown chroma '422'"):
        VideoWriter(folder / "x.mkv", 64, 64, 10, codec="h264", chroma="422")
    assert not list(folder.iterdir())
