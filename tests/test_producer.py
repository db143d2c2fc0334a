"""The producer: detect + track + U_e + paste + hidden ROIs, end to end on the real sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics_app.core import stego
from forensics_app.core.detect import Box
from forensics_app.core.obscure import HALO, OBSCURE_MARGIN
from forensics_app.core.video import VideoReader, probe
from forensics_app.core.video_writer import VideoWriter
from forensics_app.errors import ForensicsError
from forensics_app.uunet.inference import FaceEncoder
from forensics_app.uunet.producer import ProducerConfig, deidentify_video, track_seed


class FixedDetector:
    """Returns the same boxes on every frame (to drive the capacity logic exactly)."""

    def __init__(self, boxes: list[Box]) -> None:
        self.boxes = boxes

    def detect(self, bgr: np.ndarray) -> list[Box]:
        return list(self.boxes)


def _frames(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [f.image for f in reader]


def test_public_stream_hides_rois_and_replaces_only_faces(
    sample_video: Path, tmp_path: Path, encoder: FaceEncoder
) -> None:
    out = tmp_path / "public.mkv"
    stats = deidentify_video(
        sample_video, out, encoder, config=ProducerConfig(max_frames=6, every_k=3, stream_id=77)
    )
    assert stats.frames == 6 and stats.faces > 0 and stats.tracks > 0
    rows = {row["frame"]: row for row in stats.review}
    public = _frames(out)
    with VideoReader(sample_video) as reader:
        original = [f.image for f in reader.frames(0, 6)]
    assert len(public) == 6
    for index, (pub, orig) in enumerate(zip(public, original, strict=True)):
        result = stego.extract(pub)
        assert result.status == "ok", result.detail
        assert result.message.stream_id == 77 and result.message.frame_index == index
        mask = np.zeros(pub.shape[:2], bool)
        touched = np.zeros(pub.shape[:2], bool)  # pixelated: rings, unsure heads, zones
        height, width = pub.shape[:2]
        for x, y, w, h in result.message.boxes:
            assert 0 <= x and 0 <= y and x + w <= pub.shape[1] and y + h <= pub.shape[0]
            mask[y : y + h, x : x + w] = True
            ring = Box(x, y, w, h).expand(HALO).clip(width, height)
            touched[ring.y : ring.y2, ring.x : ring.x2] = True
        for box in rows.get(index, {}).get("obscured", []):
            region = Box(*box).expand(OBSCURE_MARGIN).clip(width, height)
            touched[region.y : region.y2, region.x : region.x2] = True
        assert mask.any()
        diff = pub.astype(np.float64) - orig.astype(np.float64)
        outside = float(np.mean(diff[~(mask | touched)] ** 2))
        inside = float(np.mean(diff[mask] ** 2))
        assert 10 * np.log10(255**2 / max(outside, 1e-9)) > 35  # only the stego mark outside
        assert inside > 4 * outside  # the faces themselves were replaced


def test_track_seed_is_stable_per_track_and_differs_across_streams() -> None:
    assert track_seed(1, 5) == track_seed(1, 5)
    assert track_seed(1, 5) != track_seed(1, 6)
    assert track_seed(1, 5) != track_seed(2, 5)


def test_video_without_faces_reads_ok_with_no_boxes(tmp_path: Path, encoder: FaceEncoder) -> None:
    src = tmp_path / "empty_scene.mkv"
    with VideoWriter(src, 320, 240, 10) as writer:
        for i in range(4):
            writer.write(np.full((240, 320, 3), 90 + i, np.uint8))
    out = tmp_path / "public.mkv"
    stats = deidentify_video(src, out, encoder, config=ProducerConfig(every_k=1))
    assert stats.faces == 0
    for frame in _frames(out):
        result = stego.extract(frame)
        assert result.status == "ok" and result.message.boxes == ()


def test_more_faces_than_capacity_the_largest_are_listed_and_the_rest_pixelated(
    tmp_path: Path, encoder: FaceEncoder
) -> None:
    src = tmp_path / "crowd.mkv"
    rng = np.random.default_rng(3)
    with VideoWriter(src, 320, 240, 10) as writer:
        for _ in range(2):
            writer.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    capacity = stego.capacity(320, 240)
    boxes = [
        Box(8 + 12 * (i % 24), 8 + 40 * (i // 24), 10 + i % 3, 10, 0.9) for i in range(capacity + 5)
    ]
    out = tmp_path / "public.mkv"
    with pytest.warns(UserWarning, match="ROI message holds"):
        stats = deidentify_video(
            src, out, encoder, detector=FixedDetector(boxes), config=ProducerConfig(every_k=1)
        )
    assert stats.frames_over_capacity == 2
    assert stats.faces == 2 * capacity
    assert stats.obscured == stats.obscured_by_reason["over_capacity"] == 2 * 5
    assert [row["reasons"] for row in stats.review] == [["over_capacity"]] * 2
    result = stego.extract(_frames(out)[0])
    assert result.status == "ok" and len(result.message.boxes) == capacity


def test_interrupted_run_leaves_no_output(
    sample_video: Path, tmp_path: Path, encoder: FaceEncoder
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "public.mkv"

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deidentify_video(
            sample_video,
            out,
            encoder,
            detector=FixedDetector([]),
            config=ProducerConfig(max_frames=4, batch_frames=2),
            progress=interrupt,
        )
    assert list(folder.iterdir()) == []


def test_bad_inputs_are_one_line_errors(tmp_path: Path, encoder: FaceEncoder) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    with pytest.raises(ForensicsError) as info:
        deidentify_video(junk, tmp_path / "o.mkv", encoder, detector=FixedDetector([]))
    assert "\n" not in str(info.value)
    with pytest.raises(ForensicsError, match="overwrite"):
        deidentify_video(junk, junk, encoder, detector=FixedDetector([]))
    with pytest.raises(ForensicsError):
        ProducerConfig(every_k=0)


def test_chroma_444_publishes_full_resolution_colour_and_says_so(
    sample_video: Path, tmp_path: Path, encoder: FaceEncoder
) -> None:
    """``chroma="444"`` (``deidentify --chroma 444``) writes yuv444p H.264 that still carries
    every frame's ROI message, and the run's config records the choice."""
    out = tmp_path / "public444.mkv"
    config = ProducerConfig(max_frames=3, codec="h264", crf=23, chroma="444", stream_id=5)
    stats = deidentify_video(
        sample_video, out, encoder, detector=FixedDetector([Box(300, 200, 40, 48, 0.9)]),
        config=config,
    )  # fmt: skip
    assert probe(out).pix_fmt == "yuv444p" and stats.config["chroma"] == "444"
    assert all(stego.extract(frame).status == "ok" for frame in _frames(out))
    with pytest.raises(ForensicsError, match="unknown chroma '422'"):
        ProducerConfig(chroma="422")
