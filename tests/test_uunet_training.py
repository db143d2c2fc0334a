"""Both trainers end to end on a tiny tree: losses fall, resume is exact, exports load."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from forensics_app.cli import main
from forensics_app.errors import InputError
from forensics_app.uunet.train_attributes import AttributesConfig, train_attributes
from forensics_app.uunet.train_uunet import UUNetConfig, train_uunet

SMALL_UNET = {"base": 4, "depth": 3, "norm": "none", "inner_size": 32}
RESIDUAL_UNET = {**SMALL_UNET, "residual": True}


def make_tree(root: Path, subjects: int = 5, seqs: int = 2, frames: int = 3) -> Path:
    rng = np.random.default_rng(1)
    for s in range(subjects):
        colour = tuple(int(c) for c in rng.integers(40, 220, 3))
        for q in range(seqs):
            folder = root / f"p{s}" / f"s{q}"
            folder.mkdir(parents=True)
            for f in range(frames):
                img = np.full((64, 64, 3), int(rng.integers(0, 255)), np.uint8)
                cv2.ellipse(img, (30 + f, 32), (12 + s, 20), 0, 0, 360, colour, -1)
                cv2.imwrite(str(folder / f"{f:03d}.png"), img)
    return root


@pytest.fixture(scope="module", autouse=True)
def _two_torch_threads():
    """Float sums are grouped by thread count, so these short runs (D_a included) end
    elsewhere on one thread than on two, and earlier tests in the same process (the GUI's
    reveal worker) may have left one set: the module runs on two, as on a 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny data tree and a D_a trained on it for a few steps."""
    root = tmp_path_factory.mktemp("uunet")
    data = make_tree(root / "data")
    config = AttributesConfig(width=0.25, batch_size=8, steps=3, holdout=0.2, device="cpu")
    train_attributes(data, root / "da", config, quiet=True)
    return data, root / "da"


def _config(**kw) -> UUNetConfig:
    base = dict(
        encoder=SMALL_UNET, decoder=SMALL_UNET, critic={"base": 8, "layers": 3, "norm": "none"},
        batch_size=4, holdout=0.2, device="cpu", log_every=1, checkpoint_every=1000,
    )  # fmt: skip
    base.update(kw)
    return UUNetConfig(**base)


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_attribute_export_and_card(trained: tuple[Path, Path]) -> None:
    _, da = trained
    card = json.loads((da / "da.json").read_text())
    assert card["role"] == "attribute_matcher" and len(card["sha256"]) == 64
    assert card["data"]["annotated_labels"] == {"id": True, "gender": False}
    assert json.loads((da / "config.json").read_text())["steps"] == 3


def _reconstruction_mse(ue, ud, data: Path) -> float:
    from forensics_app.uunet.data import scan_faces

    frames = np.concatenate([s.frames for s in scan_faces(data).sequences])
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    noise = torch.rand(len(x), 1, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        return float(((ud.eval()(ue.eval()(x, noise)) - x) ** 2).mean())


def test_reconstruction_loss_falls(trained: tuple[Path, Path], tmp_path: Path) -> None:
    from forensics_app.uunet.export import load_model
    from forensics_app.uunet.networks import build_network

    data, da = trained
    # U_e starts as the identity, U_d from scratch: U_d must learn to reconstruct
    config = _config(steps=40, lr_g=3e-3, augment=False, use_channel=False, encoder=RESIDUAL_UNET)
    torch.manual_seed(config.seed)
    before = _reconstruction_mse(
        build_network("unet_encoder", **config.encoder),
        build_network("unet_decoder", **config.decoder),
        data,
    )
    train_uunet(data, tmp_path, config, attributes=da, quiet=True)
    ue, _ = load_model(tmp_path / "ue.safetensors", "encoder")
    ud, _ = load_model(tmp_path / "ud.safetensors", "decoder")
    after = _reconstruction_mse(ue, ud, data)
    assert after < 0.5 * before, (before, after)
    log = _log(tmp_path / "train_log.jsonl")
    assert len(log) == 40
    assert {"mse", "adv", "ano", "con", "div", "dis", "critic", "gp"} <= set(log[0])


def test_resume_gives_the_same_next_step(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, da = trained
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_uunet(data, straight, _config(steps=3, snapshot_every=2), attributes=da, quiet=True)
    train_uunet(data, split, _config(steps=2), attributes=da, quiet=True)
    train_uunet(data, split, _config(steps=3), attributes=da, resume=True, quiet=True)
    a = [r for r in _log(straight / "train_log.jsonl") if r["step"] == 2]
    b = [r for r in _log(split / "train_log.jsonl") if r["step"] == 2]
    assert len(a) == len(b) == 1
    for key in ("mse", "adv", "ano", "con", "div", "dis", "critic", "gp"):
        assert a[0][key] == pytest.approx(b[0][key], rel=1e-5, abs=1e-7), key
    # a snapshot's card names its held-back subjects and D_a like the final export's
    final = json.loads((straight / "ud.json").read_text())["data"]
    snap = json.loads((straight / "snapshots" / "000002" / "ud.json").read_text())
    assert snap["data"] == final and snap["data"]["heldout_subjects"]
    assert snap["training"]["steps_done"] == 2


def test_phase_two_requires_a_matcher(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = trained
    with pytest.raises(InputError, match="--attributes"):
        train_uunet(data, tmp_path, _config(steps=1), attributes=None, quiet=True)


def test_cli_train_commands(trained: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    data, da = trained
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "encoder: {base: 4, depth: 3, norm: none, inner_size: 32}\n"
        "decoder: {base: 4, depth: 3, norm: none, inner_size: 32}\n"
        "critic: {base: 8, layers: 3, norm: none}\nholdout: 0.2\n"
    )
    code = main(["train", "uunet", "--data", str(data), "--out", str(tmp_path / "o"),
                 "--attributes", str(da), "--steps", "1", "--batch-size", "2",
                 "--device", "cpu", "--config", str(cfg)])  # fmt: skip
    assert code == 0
    assert json.loads((tmp_path / "o" / "config.json").read_text())["batch_size"] == 2
    bad = main(["train", "uunet", "--data", str(data), "--out", str(tmp_path / "p"),
                "--attributes", str(da), "--s", "1,1", "--config", str(cfg)])  # fmt: skip
    assert bad == 1
    assert "s_id must be -1" in capsys.readouterr().err
    missing = main(
        ["train", "attributes", "--data", str(tmp_path / "none"), "--out", str(tmp_path)]
    )
    assert missing == 1
    typo = tmp_path / "typo.yaml"
    typo.write_text("stepz: 3\n")
    assert main(["train", "attributes", "--data", str(data), "--out", str(tmp_path / "q"),
                 "--config", str(typo)]) == 1  # fmt: skip


def test_ddp_two_cpu_processes_with_the_same_command(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    """torchrun with 2 gloo processes runs the unchanged `train uunet` command."""
    import os
    import subprocess
    import sys

    data, da = trained
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "encoder: {base: 4, depth: 3, norm: none, inner_size: 32}\n"
        "decoder: {base: 4, depth: 3, norm: none, inner_size: 32}\n"
        "critic: {base: 8, layers: 3, norm: none}\nholdout: 0.2\n"
    )
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29517", "-m", "forensics_app.cli", "train", "uunet",
           "--data", str(data), "--out", str(tmp_path / "o"), "--attributes", str(da),
           "--steps", "2", "--batch-size", "2", "--device", "cpu", "--config", str(cfg)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert '"world_size": 2' in out.stdout
    card = json.loads((tmp_path / "o" / "ud.json").read_text())
    assert card["training"]["world_size"] == 2
