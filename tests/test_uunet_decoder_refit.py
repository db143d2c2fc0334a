"""Decoder refit (``forensics train decoder-refit``): U_d alone, through the real channel."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from forensics_app.cli import main
from forensics_app.core.face_geometry import crop_face, paste_face
from forensics_app.errors import InputError
from forensics_app.uunet.checkpoint import load_checkpoint
from forensics_app.uunet.evaluation.metrics import image_quality
from forensics_app.uunet.train_decoder import (
    DecoderRefitConfig,
    deployment_channel,
    draw_box,
    refit_decoder,
)
from forensics_app.uunet.train_uunet import UUNetConfig, train_uunet
from tests.test_uunet_training import SMALL_UNET
from tests.test_uunet_virtual import VI_SMALL, tiny  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def pair(tiny, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # noqa: F811
    """A tiny trained virtual-identity pair (U_e + U_d) and its data."""
    data, da, bank = tiny
    out = tmp_path_factory.mktemp("pair")
    config = UUNetConfig(
        encoder_network="vi_encoder", donors=str(bank), encoder=dict(VI_SMALL),
        decoder=SMALL_UNET, critic={"base": 8, "layers": 3, "norm": "none"},
        batch_size=4, holdout=0.2, device="cpu", checkpoint_every=1000, steps=2,
    )  # fmt: skip
    train_uunet(data, out, config, attributes=da, quiet=True)
    return data, out


def _config(**kw) -> DecoderRefitConfig:
    base = dict(
        batch_size=4, steps=3, holdout=0.2, device="cpu", log_every=1, checkpoint_every=1000
    )
    base.update(kw)
    return DecoderRefitConfig(**base)


def _faces(n: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = rng.integers(40, 220, (n, 8, 8, 3)).astype(np.uint8)
    return np.stack([np.kron(f, np.ones((8, 8, 1), np.uint8)) for f in smooth])


def test_deployment_channel_is_the_producers_paste_and_the_reveals_crop() -> None:
    faces = _faces()
    grown, boxes = deployment_channel(faces, (20, 24), None)
    assert boxes.shape == (6, 24, 20, 3) and grown.shape == (6, 64, 64, 3)
    for face, box, big in zip(faces, boxes, grown, strict=True):
        pasted = paste_face(np.zeros((24, 20, 3), np.uint8), (0, 0, 20, 24), face)
        assert np.array_equal(box, pasted)
        assert np.array_equal(big, crop_face(box, (0, 0, 20, 24)))
    coded, coded_boxes = deployment_channel(faces, (20, 24), 30)
    assert not np.array_equal(coded_boxes, boxes)  # a real codec ran
    assert image_quality(boxes, coded_boxes)["psnr"] > 15.0  # a decode, not noise
    with pytest.raises(InputError, match="box"):
        deployment_channel(faces, (70, 24), None)
    odd, odd_boxes = deployment_channel(_faces(9), (13, 15), 23)  # 3×3 tiles of 13 px: odd
    assert odd.shape == (9, 64, 64, 3) and odd_boxes.shape == (9, 15, 13, 3)


def test_boxes_are_drawn_within_their_range() -> None:
    config, rng = _config(box_min=10, box_max=40), random.Random(0)
    boxes = [draw_box(config, rng) for _ in range(500)]
    assert all(10 <= w <= 40 and 10 <= h <= 40 for w, h in boxes)
    heights = np.array([h for _, h in boxes])
    assert np.mean(heights < 20) > 0.4  # log-uniform: half the boxes below the geometric mean


def test_refit_trains_the_decoder_and_leaves_the_encoder_as_it_was(pair, tmp_path: Path) -> None:
    data, models = pair
    figures = refit_decoder(data, models, tmp_path, _config(p_lossless=0.5), quiet=True)
    assert figures["steps_done"] == 3
    assert (tmp_path / "ue.safetensors").read_bytes() == (models / "ue.safetensors").read_bytes()
    assert (tmp_path / "ud.safetensors").read_bytes() != (models / "ud.safetensors").read_bytes()
    card = json.loads((tmp_path / "ud.json").read_text())
    ue_card = json.loads((models / "ue.json").read_text())
    assert card["data"]["encoder_sha256"] == ue_card["sha256"]
    assert card["data"]["heldout_subjects"] == ue_card["data"]["heldout_subjects"]
    assert card["training"]["trainer"] == "decoder_refit"
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [0, 1, 2]


def test_refit_refuses_data_split_otherwise_than_the_encoders(pair, tmp_path: Path) -> None:
    data, models = pair
    with pytest.raises(InputError, match="held-back subjects differ"):
        refit_decoder(data, models, tmp_path, _config(holdout=0.4), quiet=True)


def test_refit_refuses_bad_settings(pair, tiny, tmp_path: Path) -> None:  # noqa: F811
    data, models = pair
    _, da, _ = tiny
    paper = UUNetConfig(
        encoder=SMALL_UNET, decoder=SMALL_UNET, critic={"base": 8, "layers": 3, "norm": "none"},
        batch_size=4, holdout=0.2, device="cpu", checkpoint_every=1000, steps=1,
    )  # fmt: skip
    train_uunet(data, tmp_path / "paper", paper, attributes=da, quiet=True)
    with pytest.raises(InputError, match="vi_encoder"):
        refit_decoder(data, tmp_path / "paper", tmp_path / "out", _config(), quiet=True)
    with pytest.raises(InputError, match="new folder"):
        refit_decoder(data, models, models, _config(), quiet=True)
    with pytest.raises(InputError, match="box sizes"):
        refit_decoder(data, models, tmp_path, _config(box_min=30, box_max=20), quiet=True)
    with pytest.raises(InputError, match="CRF"):
        refit_decoder(data, models, tmp_path, _config(crf_max=60), quiet=True)
    with pytest.raises(InputError, match="architecture"):
        refit_decoder(
            data, models, tmp_path, _config(decoder={**SMALL_UNET, "base": 6}), quiet=True
        )


def test_refit_resume_is_exact(pair, tmp_path: Path) -> None:
    data, models = pair
    refit_decoder(data, models, tmp_path / "full", _config(steps=4, p_lossless=1.0), quiet=True)
    refit_decoder(data, models, tmp_path / "part", _config(steps=2, p_lossless=1.0), quiet=True)
    first = load_checkpoint(tmp_path / "part" / "checkpoint_decoder.pt")["seconds"]
    refit_decoder(
        data, models, tmp_path / "part", _config(steps=4, p_lossless=1.0), resume=True, quiet=True
    )
    both = load_checkpoint(tmp_path / "part" / "checkpoint_decoder.pt")["seconds"]
    assert both > first > 0  # the card's seconds count both segments
    full = (tmp_path / "full" / "ud.safetensors").read_bytes()
    assert (tmp_path / "part" / "ud.safetensors").read_bytes() == full


def test_cli_decoder_refit(pair, tmp_path: Path, capsys) -> None:
    data, models = pair
    config = tmp_path / "refit.json"
    config.write_text(json.dumps({"holdout": 0.2, "batch_size": 4, "p_lossless": 1.0}))
    code = main(
        ["train", "decoder-refit", "--data", str(data), "--models", str(models),
         "--out", str(tmp_path / "out"), "--config", str(config), "--steps", "2", "--device", "cpu"]
    )  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps_done"] == 2
    assert (tmp_path / "out" / "ud.safetensors").is_file()
