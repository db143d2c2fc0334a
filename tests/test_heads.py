"""Heads without faces: the person network, silhouettes, scenery memory, on the real sample."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from model_support import copy_model

from forensics_app.core.detect import Box
from forensics_app.core.foreground import ForegroundModel
from forensics_app.core.heads import (
    HeadDetector,
    HeadGeometry,
    SceneryMemory,
    head_zone,
    motion_tops,
    silhouette_head,
)
from forensics_app.core.people import (
    PersonDetector,
    decode_people,
    default_people_card,
    input_shape,
)
from forensics_app.core.track import detect_and_track
from forensics_app.core.video import VideoReader
from forensics_app.errors import DetectionError, InputError

LABELS = Path(__file__).resolve().parents[1] / "benchmarks" / "labels" / "vtest_cut_heads.json"


@pytest.fixture(scope="module")
def people() -> PersonDetector:
    return PersonDetector(threads=2)


@pytest.fixture(scope="module")
def first_frames(sample_video: Path) -> list[np.ndarray]:
    with VideoReader(sample_video) as reader:
        return [frame.image for frame in reader.frames(0, 31)]


def test_person_network_finds_walkers_seen_from_behind(
    people: PersonDetector, first_frames: list[np.ndarray]
) -> None:
    labels = json.loads(LABELS.read_text())
    found = people.detect(first_frames[0])
    heads = [Box(*b) for b in labels["frames"]["0"]]
    # every labelled head of frame 0 (two of the three walk away from the camera) lies in
    # the top part of a person box
    for head in heads:
        cx, cy = head.center
        assert any(p.x <= cx <= p.x2 and p.y - 4 <= cy <= p.y + 0.4 * p.h for p in found), head
    assert all(b.score >= people.threshold for b in found)


def test_input_shape_keeps_proportions_within_a_fixed_budget() -> None:
    assert input_shape(768, 576) == (608, 448)  # the sample: about 608 x 448 pixels
    for width, height in ((1920, 1080), (4000, 3000), (640, 480), (577, 1023)):
        w, h = input_shape(width, height)
        assert w % 32 == 0 and h % 32 == 0
        assert abs(w / h - width / height) < 0.15 * width / height
        assert 0.8 * 608 * 448 <= w * h <= 1.2 * 608 * 448
    # a tiny frame is enlarged at most twice, and never to nothing
    assert input_shape(160, 120) == (320, 256)
    assert input_shape(8, 8) == (32, 32)


def test_decode_people_picks_person_peaks_and_their_edges() -> None:
    keypoints = np.zeros((20, 30, 80), np.float32)
    wh = np.zeros((20, 30, 4), np.float32)
    keypoints[5, 7, 0], wh[5, 7] = 0.8, (3, 10, 5, 30)  # a person at cell (7, 5)
    keypoints[5, 8, 0] = 0.6  # its neighbour: not a peak
    keypoints[15, 20, 0], wh[15, 20] = 0.35, (2, 4, 2, 6)  # a weaker person
    keypoints[10, 10, 2] = 0.9  # a car: another class
    rows = decode_people(keypoints, wh, 0.3)
    assert rows.shape == (2, 5)
    np.testing.assert_allclose(rows[0], [28 - 3, 20 - 10, 28 + 5, 20 + 30, 0.8], rtol=1e-6)
    np.testing.assert_allclose(rows[1], [78, 56, 82, 66, 0.35], rtol=1e-6)
    assert decode_people(keypoints, wh, 0.5).shape == (1, 5)
    assert decode_people(keypoints, wh, 0.95).shape == (0, 5)


def test_whole_frame_run_finds_the_people_the_tiles_found(
    people: PersonDetector, first_frames: list[np.ndarray]
) -> None:
    # the producer's default (one whole-frame run in the frame's proportions) against the
    # earlier two half-frame tiles stretched to 512 x 512, on the real sample
    tiles = HeadDetector(PersonDetector(threads=2, input_size=(512, 512)), tiles=(2, 1))
    whole = HeadDetector(people)
    for index in (0, 15, 30):
        before = tiles.find_people(first_frames[index])
        after = whole.find_people(first_frames[index])
        strong = [b for b in before if b.score >= 0.4]
        assert strong
        for box in strong:
            assert max(box.iou(b) for b in after) >= 0.5, (index, box)


def test_person_input_size_is_checked() -> None:
    with pytest.raises(InputError, match="multiples of 32"):
        PersonDetector(input_size=(500, 512))
    with pytest.raises(InputError, match="input pixels"):
        PersonDetector(input_pixels=100)


def test_altered_person_model_is_refused(tmp_path: Path) -> None:
    card = copy_model(default_people_card(), tmp_path)
    model = tmp_path / "centernet.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(DetectionError, match="altered") as caught:
        PersonDetector(card)
    assert "\n" not in str(caught.value)


def test_missing_person_model_or_card_is_one_line(tmp_path: Path) -> None:
    card = copy_model(default_people_card(), tmp_path)
    (tmp_path / "centernet.onnx").unlink()
    with pytest.raises(DetectionError, match="model not found"):
        PersonDetector(card)
    with pytest.raises(DetectionError, match="card not found"):
        PersonDetector(tmp_path / "nowhere.json")
    card.write_text("{not json")
    with pytest.raises(DetectionError, match="unreadable"):
        PersonDetector(card)


def test_silhouette_places_the_head_on_top_of_the_body() -> None:
    mask = np.zeros((200, 200), np.uint8)
    mask[60:72, 96:106] = 1  # head, 10 px wide, top at y = 60
    mask[72:150, 88:114] = 1  # body
    person = Box(80, 59, 34, 92, 0.7)  # off-centre: the head is right of the box's middle
    head = silhouette_head(person, mask, HeadGeometry())
    assert head is not None
    assert head.y == 60 and abs(head.center[0] - 101) <= 1
    assert head.score == pytest.approx(0.7)
    # no moving body in the box: no silhouette head
    assert silhouette_head(person, np.zeros_like(mask), HeadGeometry()) is None


def test_scenery_is_dropped_but_a_still_or_strong_person_is_kept() -> None:
    memory = SceneryMemory(min_runs=3)
    rock, still, strong = (
        Box(10, 10, 20, 40, 0.35),
        Box(100, 10, 20, 40, 0.35),
        Box(200, 10, 20, 40, 0.8),
    )
    verdicts = {"rock": [], "still": [], "strong": []}
    for run in range(5):
        verdicts["rock"].append(memory.is_scenery(rock, moving=0.0))
        # the still person walked in (moving) before standing still
        verdicts["still"].append(memory.is_scenery(still, moving=0.5 if run == 0 else 0.0))
        verdicts["strong"].append(memory.is_scenery(strong, moving=0.0))
        memory.next_run()
    assert verdicts["rock"] == [False, False, True, True, True]
    assert not any(verdicts["still"]) and not any(verdicts["strong"])
    # runs while the background is still learning neither clear nor convict
    memory = SceneryMemory(min_runs=2)
    for _ in range(4):
        assert not memory.is_scenery(rock, moving=None)
        memory.next_run()
    with pytest.raises(InputError):
        SceneryMemory(min_runs=1)


def test_head_detector_finds_most_labelled_heads_on_the_sample(
    people: PersonDetector, first_frames: list[np.ndarray]
) -> None:
    labels = json.loads(LABELS.read_text())
    detector = HeadDetector(people)
    hits = total = 0
    for index, (_, tracked) in enumerate(detect_and_track(first_frames, detector, every_k=3)):
        if str(index) in labels["frames"] and index > 0:
            truth = [Box(*b) for b in labels["frames"][str(index)]]
            boxes = [t.box for t in tracked]
            total += len(truth)
            hits += sum(1 for t in truth if max((t.iou(b) for b in boxes), default=0) >= 0.3)
    assert total == 8
    assert hits >= 6  # frames 15 and 30, boxes carried by the tracker in between


def test_foreground_model_shrinks_large_frames_and_refuses_a_size_change() -> None:
    model = ForegroundModel()
    big = np.zeros((3000, 4000, 3), np.uint8)
    model.apply(big)
    assert model.scale < 0.2
    assert model.mask().shape == (3000, 4000)
    with pytest.raises(InputError, match="frame size changed"):
        model.apply(cv2.resize(big, (400, 300)))


def test_motion_tops_cover_a_person_no_head_box_covers() -> None:
    mask = np.zeros((100, 100), np.uint8)  # at scale 0.5 of a 200x200 frame
    mask[20:60, 10:20] = 1  # person A (head box given)
    mask[30:60, 20:32] = 1  # person B, touching A: one blob, B's top lower
    head_a = Box(20, 40, 20, 20)  # frame pixels: A's top at y = 40
    tops = motion_tops(mask, 0.5, [head_a])
    assert len(tops) == 1
    b = tops[0]
    assert b.x == 40 and b.x2 == 64 and b.y == 60  # B's columns, from B's top down
    assert motion_tops(mask, 0.5, [head_a, Box(40, 60, 24, 20)]) == []
    # specks of noise are not people
    speck = np.zeros((100, 100), np.uint8)
    speck[50:52, 50:52] = 1
    assert motion_tops(speck, 0.5, []) == []
    assert motion_tops(None, 0.5, []) == []


def test_scenery_is_pixelated_not_carried(
    people: PersonDetector, first_frames: list[np.ndarray]
) -> None:
    # min_size 1: the weak box that turns into scenery here is a 14 x 24 px figure whose head
    # (4 px) the default minimum would drop altogether
    detector = HeadDetector(people, scenery=SceneryMemory(min_runs=2), min_size=1)
    for frame in first_frames[:12]:
        detector.observe(frame)
    static = [first_frames[11]] * 4  # nothing moves any more: weak boxes become scenery
    for frame in static:
        detector.observe(frame)
        heads = detector.detect(frame)
    assert detector.scenery_dropped > 0
    assert any(h.score == 0.0 for h in heads)  # kept, to be pixelated


def test_unsure_person_boxes_leave_a_head_zone(
    people: PersonDetector, first_frames: list[np.ndarray]
) -> None:
    zone = head_zone(Box(100, 50, 20, 60, 0.35))
    assert zone.as_tuple() == (95, 44, 30, 24) and zone.contains(110, 52)
    detector = HeadDetector(people)
    for frame in first_frames[:4]:
        detector.observe(frame)
    detector.detect(first_frames[3])
    weak = [p for p in detector.last_people if p.score < 0.4]
    assert len(detector.unsure_zones()) >= len(weak)
