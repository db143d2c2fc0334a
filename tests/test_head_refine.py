"""The head refiner: checked weights, windows, boxes moved onto real labelled heads, training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from model_support import copy_model

from forensics_app import cli
from forensics_app.core import head_refine
from forensics_app.core.detect import Box
from forensics_app.core.head_refine import HeadRefiner, crop_windows, window_of
from forensics_app.core.heads import CONFIRM_HEAD, ZONE_UNSURE_BELOW, HeadDetector
from forensics_app.core.track import TrackedBox
from forensics_app.errors import DetectionError, InputError
from forensics_app.uunet.train_heads import (
    HeadRefinerConfig,
    clip_views,
    load_label_sets,
    train_head_refiner,
)

LABELS = Path(__file__).resolve().parents[1] / "benchmarks" / "labels"


@pytest.fixture(scope="module")
def refiner() -> HeadRefiner:
    return HeadRefiner()


@pytest.fixture(scope="module")
def scored(sample_video: Path) -> tuple[dict, dict]:
    """Audited labels and (frame, mask) of three scored frames of the sample."""
    labels = json.loads((LABELS / "vtest_cut_heads.json").read_text())["frames"]
    wanted = {45, 60, 75}
    return {i: labels[str(i)] for i in wanted}, clip_views(sample_video, wanted)


def test_altered_or_missing_refiner_is_refused_in_one_line(tmp_path: Path) -> None:
    card = copy_model(head_refine.default_refiner_card(), tmp_path)
    weights = tmp_path / "refiner.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(DetectionError, match="altered") as caught:
        HeadRefiner(card)
    assert "\n" not in str(caught.value)
    weights.unlink()
    with pytest.raises(DetectionError, match="head refiner model not found"):
        HeadRefiner(card)


def test_a_window_shows_what_lies_around_the_head() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    image[40:50, 60:70] = 255  # a bright 10 px square
    mask = np.zeros((100, 100), np.uint8)
    mask[40:50, 60:70] = 1
    guess = Box(55, 45, 10, 10)  # placed 5 px left and 5 px low of the square
    x, y, side = window_of(guess)
    assert (x, y, side) == (45.0, 35.0, 30.0)
    patch = crop_windows(image, mask, [(x, y, side)])[0]
    assert patch.shape == (4, 32, 32)
    # the square spans window pixels 15..25 across and 5..15 down, times 32/30
    bright = np.argwhere(patch[0] > 128)
    assert 15 <= bright[:, 1].min() * 30 / 32 + 0.5 <= 17 and bright[:, 0].min() <= 6
    assert (patch[3] == 255).sum() == pytest.approx((patch[0] > 128).sum(), rel=0.3)
    # no background model yet: the foreground channel is empty, as in training
    assert crop_windows(image, None, [(x, y, side)])[0, 3].max() == 0


def test_refiner_puts_displaced_boxes_back_on_real_heads(
    refiner: HeadRefiner, scored: tuple[dict, dict]
) -> None:
    labels, views = scored
    rng = np.random.default_rng(7)
    before, after = [], []
    for index, boxes in labels.items():
        image, mask, _ = views[index]
        truth = [Box(*b) for b in boxes]
        moved = []
        for t in truth:  # a placement 0.55 head heights off in a random direction
            angle = rng.uniform(0, 2 * np.pi)
            dx, dy = 0.55 * t.h * np.cos(angle), 0.55 * t.h * np.sin(angle)
            moved.append(Box.from_xyxy(t.x + dx, t.y + dy, t.x2 + dx, t.y2 + dy, 0.6))
        refined = refiner.refine(image, mask, moved)
        assert [b.score for b in refined] == [0.6] * len(moved)
        before += [t.iou(m) for t, m in zip(truth, moved, strict=True)]
        after += [t.iou(r) for t, r in zip(truth, refined, strict=True)]
    assert len(before) >= 15
    assert np.mean(after) > np.mean(before) + 0.15, (np.mean(before), np.mean(after))
    assert np.mean(np.asarray(after) >= 0.3) >= 0.9 > np.mean(np.asarray(before) >= 0.3)


def test_refiner_tells_heads_from_background(
    refiner: HeadRefiner, scored: tuple[dict, dict]
) -> None:
    labels, views = scored
    heads, background = [], []
    rng = np.random.default_rng(3)
    for index, boxes in labels.items():
        image, mask, _ = views[index]
        truth = [Box(*b) for b in boxes]
        heads += [p for _, p in refiner.refine_scored(image, mask, truth)]
        empty = []
        while len(empty) < 20:  # head-sized boxes two head heights or more from every head
            x, y = rng.uniform(20, 740), rng.uniform(80, 560)
            if all(np.hypot(x - t.center[0], y - t.center[1]) > 2 * t.h for t in truth):
                empty.append(Box.from_xyxy(x - 5, y - 6, x + 5, y + 6, 0.5))
        background += [p for _, p in refiner.refine_scored(image, mask, empty)]
    assert np.mean(np.asarray(heads) >= 0.5) >= 0.9, heads
    assert np.mean(np.asarray(background) < 0.5) >= 0.9, background


def test_a_weak_person_with_a_plain_head_is_raised_to_the_carry_score(
    refiner: HeadRefiner,
) -> None:
    finder = HeadDetector(refiner=refiner)  # confirm = CONFIRM_HEAD
    weak, strong, scenery = Box(1, 1, 10, 12, 0.33), Box(1, 1, 10, 12, 0.6), Box(1, 1, 10, 12, 0.0)
    assert finder._rescore(weak, CONFIRM_HEAD).score == ZONE_UNSURE_BELOW
    assert finder._rescore(weak, CONFIRM_HEAD - 0.01).score == pytest.approx(0.33)
    assert finder._rescore(scenery, 1.0).score == 0.0  # scenery stays pixelated
    assert finder._rescore(strong, 0.0).score == pytest.approx(0.6)
    finder.confirm = None
    assert finder._rescore(weak, 1.0).score == pytest.approx(0.33)


def test_refiner_moves_a_box_at_most_one_head_height(refiner: HeadRefiner) -> None:
    image = np.full((200, 200, 3), 128, np.uint8)
    image[20:32, 20:30] = 0  # a dark head-like blob far from the placed box
    placed = Box(120, 120, 10, 12, 0.5)
    (moved,) = refiner.refine(image, None, [placed])
    ox, oy = placed.center
    assert abs(moved.center[0] - ox) <= 12.5 and abs(moved.center[1] - oy) <= 12.5
    assert placed.w / 1.5 - 1 <= moved.w <= placed.w * 1.5 + 1


def test_settle_corrects_the_flow_of_found_tracks_only(
    refiner: HeadRefiner, scored: tuple[dict, dict]
) -> None:
    labels, views = scored
    image, mask, _ = views[60]
    head = Box(*labels[60][0])
    detector = HeadDetector(refiner=refiner)

    class Ready:
        ready = True

        def mask(self) -> np.ndarray:
            return mask

    detector.foreground = Ready()  # type: ignore[assignment]  # the labelled frame's mask
    off = head.expand(1.2)
    off = Box(off.x + 4, off.y + 3, off.w, off.h, 0.6)  # flow left it 4 px right, 3 px low
    found = TrackedBox(1, off, 60, False, 0)
    coasting = TrackedBox(2, Box(10, 10, 12, 14, 0.6), 60, False, 2)
    moves = detector.settle(image, [found, coasting], {1: (0.0, 0.0), 2: (1.0, 1.0)})
    assert moves[2] == (1.0, 1.0)
    dx, dy = moves[1]
    assert dx < -1.5 and dy < -1.0  # pulled back towards the head
    assert HeadDetector.settle(
        type("NoRefiner", (), {"refiner": None})(), image, [found], {1: (0.5, 0.0)}
    ) == {1: (0.5, 0.0)}


def test_training_writes_a_checked_model_and_is_deterministic(
    tmp_path: Path, sample_video: Path
) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"frames": {"20": [[414, 172, 11, 12]], "25": []}}))
    config = HeadRefinerConfig(steps=3, per_head=4, batch_size=8, negatives=5, per_miss=1)
    cards = [
        train_head_refiner(sample_video, [labels], tmp_path / name, config, quiet=True)
        for name in ("a", "b")
    ]
    assert cards[0]["sha256"] == cards[1]["sha256"]
    assert cards[0]["data"]["heads"] == 1 and cards[0]["data"]["head_windows"] == 4
    # the head finder whose misplacements became negatives is on the card (the shipped
    # refiner's: two half-frame tiles, as the producer ran before 2026-12-03)
    assert cards[0]["config"]["finder"] == "tiles"
    shipped = json.loads(head_refine.default_refiner_card().read_text())
    assert shipped["config"]["finder"] == "tiles"
    loaded = HeadRefiner(tmp_path / "a" / "refiner.json")
    assert loaded.sha256 == cards[0]["sha256"]


def test_bad_labels_are_one_line_errors(tmp_path: Path, sample_video: Path, capsys) -> None:
    with pytest.raises(InputError, match="not found"):
        load_label_sets([tmp_path / "none.json"])
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps({"frames": {"5": [[1, 2, 10, 12]]}}))
    with pytest.raises(InputError, match="frame 5 is labelled twice"):
        load_label_sets([twice, twice])
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"frames": {"5": []}}))
    with pytest.raises(InputError, match="no head boxes"):
        load_label_sets([empty])
    with pytest.raises(InputError, match="unknown finder 'faces'"):
        train_head_refiner(
            sample_video, [twice], tmp_path / "f", HeadRefinerConfig(finder="faces"), quiet=True
        )
    assert not (tmp_path / "f").exists()
    late = tmp_path / "late.json"
    late.write_text(json.dumps({"frames": {"400": [[1, 2, 10, 12]]}}))
    code = cli.main(
        [
            "train", "head-refiner", "--video", str(sample_video), "--labels", str(late),
            "--out", str(tmp_path / "out"), "--quiet",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "has no frame 400" in err[0]
    assert not (tmp_path / "out").exists()


def test_the_producer_records_the_refiner_and_refuses_an_altered_one(
    tmp_path: Path, sample_video: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    code = cli.main(
        [
            "deidentify", str(sample_video), "--out", str(tmp_path / "p.mkv"),
            "--max-frames", "5", "--quiet", "--json",
        ]
    )  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    shipped = json.loads(head_refine.default_refiner_card().read_text())["sha256"]
    assert summary["refiner_sha256"] == shipped
    card = copy_model(head_refine.default_refiner_card(), tmp_path)
    weights = tmp_path / "refiner.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])
    monkeypatch.setattr(head_refine, "default_refiner_card", lambda: card)
    out = tmp_path / "q.mkv"
    code = cli.main(["deidentify", str(sample_video), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "head refiner" in err[0] and "altered" in err[0]
    assert not out.exists()
