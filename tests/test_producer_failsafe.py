"""Privacy before reversibility: what the producer cannot carry, it pixelates; on error, nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from model_support import copy_model

from forensics_app import cli
from forensics_app.core import people as people_module
from forensics_app.core import stego
from forensics_app.core.detect import Box
from forensics_app.core.track import TrackedBox
from forensics_app.core.video import Frame, VideoReader
from forensics_app.core.video_writer import VideoWriter
from forensics_app.errors import DetectionError
from forensics_app.uunet.inference import FaceEncoder
from forensics_app.uunet.producer import ProducerConfig, deidentify_video, plan_frame


class ScriptedDetector:
    """Returns fixed boxes, and raises on the detector run for frame ``fail_at``."""

    def __init__(self, boxes: list[Box], fail_at: int | None = None) -> None:
        self.boxes, self.fail_at, self.calls = boxes, fail_at, 0

    def detect(self, bgr: np.ndarray) -> list[Box]:
        if self.fail_at is not None and self.calls == self.fail_at:
            raise DetectionError("person detector failed on a 320x240 frame")
        self.calls += 1
        return list(self.boxes)


def _textured_video(path: Path, frames: int = 4, size: tuple[int, int] = (320, 240)) -> None:
    rng = np.random.default_rng(7)
    with VideoWriter(path, *size, 10) as writer:
        for _ in range(frames):
            writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def _frames(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [f.image for f in reader]


def _detail(patch: np.ndarray) -> float:
    """Fine detail left in a patch: mean distance to its 3×3 blur (pixelation removes it;
    the hidden message's faint texture stays far below what a face or noise has)."""
    smooth = cv2.blur(patch.astype(np.float32), (3, 3))
    return float(np.abs(patch.astype(np.float32) - smooth).mean())


def test_plan_carries_sure_heads_and_pixelates_unsure_small_and_overflow() -> None:
    config = ProducerConfig(carry_threshold=0.4, min_carry=8)
    tracked = [
        TrackedBox(1, Box(10, 10, 20, 20, 0.9), 0, True),
        TrackedBox(2, Box(40, 10, 20, 20, 0.35), 0, True),
        TrackedBox(3, Box(70, 10, 6, 6, 0.9), 0, True),
        TrackedBox(4, Box(100, 10, 12, 12, 0.8), 0, False),
        TrackedBox(5, Box(300, 10, 12, 12, 0.8), 0, True),  # outside the 200-px frame
        TrackedBox(6, Box(130, 40, 14, 14, 0.9), 0, False, missed=2),  # coasting
    ]
    regions = [(Box(150, 0, 30, 20), "unsure_person"), (Box(190, 90, 30, 30), "uncovered_motion")]
    plan = plan_frame(tracked, 200, 100, config, capacity=1, motion=regions)
    assert plan.carried == [(1, (10, 10, 20, 20))]
    reasons = {box: why for box, why in plan.obscured}
    assert reasons == {
        (40, 10, 20, 20): "low_confidence",
        (70, 10, 6, 6): "small",
        (100, 10, 12, 12): "over_capacity",
        (130, 40, 14, 14): "coasting",
        (150, 0, 30, 20): "unsure_person",
        (190, 90, 10, 10): "uncovered_motion",  # clipped to the frame
    }


def test_unsure_head_is_pixelated_and_not_listed(tmp_path: Path, encoder: FaceEncoder) -> None:
    src, out = tmp_path / "in.mkv", tmp_path / "out.mkv"
    _textured_video(src)
    sure, unsure = Box(10, 10, 24, 24, 0.9), Box(80, 40, 24, 24, 0.3)
    stats = deidentify_video(
        src, out, encoder, detector=ScriptedDetector([sure, unsure]), config=ProducerConfig()
    )
    assert stats.faces == 4 and stats.obscured == 4
    assert stats.obscured_by_reason == {"low_confidence": 4}
    assert [row["frame"] for row in stats.review] == [0, 1, 2, 3]
    original, public = _frames(src)[0], _frames(out)[0]
    assert stego.extract(public).message.boxes == (sure.as_tuple(),)
    assert _detail(public[40:64, 80:104]) < 0.2 * _detail(original[40:64, 80:104])


def test_detector_error_mid_video_publishes_nothing(tmp_path: Path, encoder: FaceEncoder) -> None:
    src = tmp_path / "in.mkv"
    _textured_video(src, frames=8)
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(DetectionError, match="failed") as caught:
        deidentify_video(
            src,
            folder / "public.mkv",
            encoder,
            detector=ScriptedDetector([Box(10, 10, 24, 24, 0.9)], fail_at=2),
            config=ProducerConfig(every_k=1, batch_frames=1),
        )
    assert "\n" not in str(caught.value)
    assert list(folder.iterdir()) == []


def test_damaged_frame_is_pixelated_whole_and_a_gap_is_counted(
    tmp_path: Path, encoder: FaceEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = tmp_path / "in.mkv", tmp_path / "out.mkv"
    _textured_video(src, frames=5)
    real_frames = VideoReader.frames

    def frames_with_damage(self: VideoReader, start: int = 0, stop: int | None = None) -> Iterator:
        for frame in real_frames(self, start, stop):
            if frame.index == 3:
                continue  # frame 3 cannot be decoded at all
            damaged = frame.index == 1  # frame 1 was concealed by the decoder
            yield Frame(frame.index, frame.pts, frame.image, damaged=damaged)

    monkeypatch.setattr(VideoReader, "frames", frames_with_damage)
    stats = deidentify_video(
        src, out, encoder, detector=ScriptedDetector([Box(10, 10, 24, 24, 0.9)])
    )
    monkeypatch.undo()
    assert stats.frames == 4 and stats.frames_missing == 1 and stats.frames_obscured == 1
    assert [r["reasons"] for r in stats.review] == [["damaged_frame"]]
    public, original = _frames(out), _frames(src)
    assert _detail(public[1]) < 0.2 * _detail(original[1])
    assert _detail(public[0][100:, 100:]) > 0.8 * _detail(original[0][100:, 100:])
    assert stego.extract(public[1]).message.boxes == ()


def test_a_4000x3000_video_is_processed_with_the_real_head_detector(
    tmp_path: Path, encoder: FaceEncoder, sample_video: Path
) -> None:
    with VideoReader(sample_video) as reader:
        frame = reader.read(150).image
    big = cv2.resize(frame, (4000, 3000), interpolation=cv2.INTER_LINEAR)
    src, out = tmp_path / "big.mkv", tmp_path / "big_public.mkv"
    with VideoWriter(src, 4000, 3000, 10) as writer:
        writer.write(big)
        writer.write(big)
    stats = deidentify_video(src, out, encoder, config=ProducerConfig(every_k=1))
    assert stats.frames == 2
    assert stats.faces + stats.obscured >= 10  # the walkers of frame 150, at 5× their size
    public = _frames(out)[1]
    assert public.shape == (3000, 4000, 3)
    assert stego.extract(public).status == "ok"


def test_cli_review_file_and_an_altered_detector(
    tmp_path: Path, sample_video: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    review = tmp_path / "review.json"
    code = cli.main(
        [
            "deidentify", str(sample_video), "--out", str(tmp_path / "p.mkv"),
            "--max-frames", "12", "--quiet", "--json", "--review", str(review),
        ]
    )  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 12 and summary["detector_sha256"]
    document = json.loads(review.read_text())
    assert document["format"] == "uunet-producer-review/1"
    assert len(document["review"]) == summary["frames_for_review"]
    # a swapped or altered person model: one line, exit 1, no output
    card = copy_model(people_module.default_people_card(), tmp_path)
    model = tmp_path / "centernet.onnx"
    model.write_bytes(model.read_bytes()[:-100])
    monkeypatch.setattr(people_module, "default_people_card", lambda: card)
    out = tmp_path / "q.mkv"
    code = cli.main(["deidentify", str(sample_video), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "altered" in err[0]
    assert not out.exists()
