"""The virtual-identity encoder U_e(x, z): donor bank, donor choice, network, inference,
training, and the refusals (a tampered bank or weights, a bank that does not fit)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from forensics_app.cli import main
from forensics_app.errors import InputError, ModelError, VerificationError
from forensics_app.uunet import losses as L
from forensics_app.uunet.donors import build_donor_bank, donor_index, load_bank, save_bank
from forensics_app.uunet.export import export_model, load_model
from forensics_app.uunet.inference import FaceEncoder
from forensics_app.uunet.networks import build_network, low_pass
from forensics_app.uunet.train_attributes import AttributesConfig, train_attributes
from forensics_app.uunet.train_uunet import UUNetConfig, train_uunet
from tests.test_uunet_synthetic import small_set  # noqa: F401  (fixture)
from tests.test_uunet_training import SMALL_UNET, make_tree

VI_SMALL = {"base": 4, "depth": 3, "norm": "none", "inner_size": 32}


def _bank(n: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)


def _encoder(faces: np.ndarray, **cfg) -> torch.nn.Module:
    net = build_network("vi_encoder", **VI_SMALL, donors=len(faces), **cfg)
    net.set_donors(torch.from_numpy(faces).permute(0, 3, 1, 2).contiguous())
    return net.eval()


def test_donor_index_is_deterministic_spread_and_checked() -> None:
    picks = [donor_index(seed, 200) for seed in range(400)]
    assert picks == [donor_index(seed, 200) for seed in range(400)]
    assert all(0 <= p < 200 for p in picks)
    assert len(set(picks)) > 150  # neighbouring seeds land all over the bank
    assert sum(a == b for a, b in zip(picks, picks[1:], strict=False)) < 10
    with pytest.raises(InputError, match="non-negative"):
        donor_index(-1, 200)
    with pytest.raises(InputError, match="empty"):
        donor_index(3, 0)


def test_bank_from_a_synthetic_set_round_trips_and_refuses_tampering(
    small_set: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    faces, ids = build_donor_bank(small_set, first=1, count=2, progress=False)
    assert faces.shape == (2, 64, 64, 3) and faces.dtype == np.uint8 and ids == [1, 2]
    card = save_bank(tmp_path / "bank.safetensors", faces, ids)
    back, card2 = load_bank(tmp_path / "bank.safetensors")
    assert np.array_equal(back, faces) and card2["sha256"] == card["sha256"]
    assert "research use" in card2["provenance"]
    with pytest.raises(InputError, match="only 2 identities"):
        build_donor_bank(small_set, first=1, count=5, progress=False)
    blob = bytearray((tmp_path / "bank.safetensors").read_bytes())
    blob[-1] ^= 1
    (tmp_path / "bank.safetensors").write_bytes(bytes(blob))
    with pytest.raises(InputError, match="sha256"):
        load_bank(tmp_path / "bank.safetensors")
    with pytest.raises(InputError, match="cannot read donor bank"):
        load_bank(tmp_path / "missing.safetensors")


def test_untrained_encoder_is_the_donor_transfer() -> None:
    """At initialisation a = a0 = low(x) + z − low(z): x's light under z's detail."""
    faces = _bank()
    net = _encoder(faces, lowpass=8)
    x = torch.rand(3, 3, 64, 64)
    index = torch.tensor([0, 1, 4])
    with torch.no_grad():
        a = net(x, torch.rand(3, 1, 64, 64), index)
        z = net.donor(index)
    a0 = (low_pass(x, 8) + z - low_pass(z, 8)).clamp(0.02, 0.98)
    assert torch.allclose(a, a0, atol=1e-4)
    # the detail is the donor's, the coarse raster is x's
    assert torch.allclose(low_pass(a, 8), low_pass(x, 8).clamp(0.02, 0.98), atol=0.08)
    with pytest.raises(ModelError, match="donor index"):
        net(x, torch.rand(3, 1, 64, 64))


def test_bank_must_fit_the_configured_size() -> None:
    net = build_network("vi_encoder", **VI_SMALL, donors=4)
    with pytest.raises(ModelError, match="donor bank must be"):
        net.set_donors(torch.zeros(5, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ModelError, match="donors >= 1"):
        build_network("vi_encoder", **VI_SMALL, donors=0)


def test_donors_travel_in_the_weights_and_their_hash(tmp_path: Path) -> None:
    faces = _bank(6)
    cfg = {**VI_SMALL, "donors": 6, "lowpass": 8}
    export_model(_encoder(faces), "vi_encoder", cfg, tmp_path / "ue.safetensors", role="encoder")
    enc = FaceEncoder.from_file(tmp_path / "ue.safetensors")
    assert enc.donor_count == 6
    assert np.array_equal(enc.donor_faces_rgb(), faces)
    # a changed donor (one pixel of the bank inside the file) fails the card's sha256
    blob = bytearray((tmp_path / "ue.safetensors").read_bytes())
    blob[-7] ^= 0x10
    (tmp_path / "ue.safetensors").write_bytes(bytes(blob))
    with pytest.raises(VerificationError, match="sha256"):
        load_model(tmp_path / "ue.safetensors")


def test_encode_keeps_one_donor_per_seed(tmp_path: Path) -> None:
    faces = _bank(8)
    cfg = {**VI_SMALL, "donors": 8, "lowpass": 8}
    export_model(_encoder(faces), "vi_encoder", cfg, tmp_path / "ue.safetensors", role="encoder")
    enc = FaceEncoder.from_file(tmp_path / "ue.safetensors")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    seeds = [11, 11, 12, 13]
    first = enc.encode(x, seeds)
    assert np.array_equal(first, enc.encode(x, seeds))  # same seed, same bytes
    other = [s for s in range(100, 140) if donor_index(s, 8) != donor_index(11, 8)][0]
    moved = enc.encode(x[:1], [other])
    assert np.abs(moved.astype(int) - first[:1].astype(int)).mean() > 5  # another person


def test_donor_identity_loss_is_a_hinge() -> None:
    z = torch.zeros(2, 4)
    near = torch.full((2, 4), 0.1)  # distance 0.2
    far = torch.full((2, 4), 0.5, requires_grad=True)  # distance 1.0
    assert float(L.donor_identity_loss(z, near, 0.4)) == 0.0
    loss = L.donor_identity_loss(z, far, 0.4)
    assert float(loss.detach()) == pytest.approx((1.0 - 0.4) / 0.4)
    loss.backward()
    assert far.grad is not None and float(far.grad.abs().sum()) > 0
    with pytest.raises(InputError, match="positive"):
        L.donor_identity_loss(z, near, 0.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("vi")
    data = make_tree(root / "data")
    config = AttributesConfig(width=0.25, batch_size=8, steps=2, holdout=0.2, device="cpu")
    train_attributes(data, root / "da", config, quiet=True)
    save_bank(root / "bank.safetensors", _bank(5, seed=9), list(range(5)))
    return data, root / "da", root / "bank.safetensors"


def _vi_config(bank: Path, **kw) -> UUNetConfig:
    base = dict(
        encoder_network="vi_encoder", donors=str(bank), encoder=dict(VI_SMALL),
        decoder=SMALL_UNET, critic={"base": 8, "layers": 3, "norm": "none"},
        batch_size=4, holdout=0.2, device="cpu", log_every=1, checkpoint_every=1000, steps=3,
    )  # fmt: skip
    base.update(kw)
    return UUNetConfig(**base)


def test_training_exports_a_virtual_identity_encoder(tiny, tmp_path: Path) -> None:
    data, da, bank = tiny
    train_uunet(data, tmp_path, _vi_config(bank), attributes=da, quiet=True)
    card = json.loads((tmp_path / "ue.json").read_text())
    assert card["architecture"]["name"] == "vi_encoder"
    assert card["architecture"]["config"]["donors"] == 5
    enc = FaceEncoder.from_file(tmp_path / "ue.safetensors")
    faces, _ = load_bank(bank)
    assert np.array_equal(enc.donor_faces_rgb(), faces)
    out = enc.encode(np.zeros((2, 64, 64, 3), np.uint8), [1, 2])
    assert out.shape == (2, 64, 64, 3)


def test_training_resume_is_exact_with_donors(tiny, tmp_path: Path) -> None:
    data, da, bank = tiny
    train_uunet(data, tmp_path / "full", _vi_config(bank, steps=4), attributes=da, quiet=True)
    train_uunet(data, tmp_path / "part", _vi_config(bank, steps=2), attributes=da, quiet=True)
    train_uunet(
        data, tmp_path / "part", _vi_config(bank, steps=4), attributes=da, resume=True, quiet=True
    )
    a = (tmp_path / "full" / "ue.safetensors").read_bytes()
    b = (tmp_path / "part" / "ue.safetensors").read_bytes()
    assert a == b


def test_training_refuses_a_virtual_encoder_without_a_good_bank(tiny, tmp_path: Path) -> None:
    data, da, bank = tiny
    with pytest.raises(InputError, match="needs donors"):
        train_uunet(data, tmp_path, _vi_config(bank, donors=""), attributes=da, quiet=True)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(bank.read_bytes()[:-3])
    bank.with_suffix(".json").read_text()
    (tmp_path / "broken.json").write_text(bank.with_suffix(".json").read_text())
    with pytest.raises(InputError, match="sha256"):
        train_uunet(data, tmp_path, _vi_config(broken), attributes=da, quiet=True)


def test_cli_donor_bank(small_set: Path, tmp_path: Path, capsys) -> None:  # noqa: F811
    out = tmp_path / "donors.safetensors"
    code = main(
        ["train", "donor-bank", "--src", str(small_set), "--out", str(out),
         "--first", "0", "--count", "3", "--quiet"]
    )  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["count"] == 3 and out.is_file()
    code = main(
        ["train", "donor-bank", "--src", str(small_set), "--out", str(tmp_path / "x.npz"),
         "--quiet"]
    )  # fmt: skip
    assert code != 0
    assert "must name a .safetensors file" in capsys.readouterr().err


def test_luma_code_writes_brightness_only_and_loads_rgb_weights() -> None:
    """``code="luma"``: the residual is one grey field, so a keeps a0's colour balance (what
    4:2:0 halves), and weights trained with ``rgb`` load unchanged (no new weights)."""
    faces = _bank()
    rgb, luma = _encoder(faces), _encoder(faces, code="luma")
    torch.nn.init.normal_(rgb.out.weight, std=0.3)
    luma.load_state_dict(rgb.state_dict())
    x, noise, index = torch.rand(2, 3, 64, 64), torch.rand(2, 1, 64, 64), torch.tensor([0, 3])
    with torch.no_grad():
        a0 = luma.start(x, luma.donor(index))
        a_rgb, a_luma = rgb(x, noise, index), luma(x, noise, index)

    def chroma_change(a: torch.Tensor) -> float:  # |Δ(B−Y)| + |Δ(R−Y)|, Y the BT.601 luma
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        d = a - a0
        dy = (d * w).sum(1)
        return float((d[:, 2] - dy).abs().mean() + (d[:, 0] - dy).abs().mean())

    assert chroma_change(a_rgb) > 0.005 and chroma_change(a_luma) < 1e-6
    grey = a_luma - a0  # the same change in every channel
    assert torch.allclose(grey[:, 0], grey[:, 1], atol=1e-6)
    with pytest.raises(ModelError, match="code must be one of"):
        build_network("vi_encoder", **VI_SMALL, donors=2, code="yuv")


def test_a_luma_fine_tune_may_start_from_rgb_weights_and_nothing_else(tiny, tmp_path: Path) -> None:
    data, da, bank = tiny
    train_uunet(data, tmp_path / "rgb", _vi_config(bank, steps=1), attributes=da, quiet=True)
    luma = _vi_config(bank, steps=1, init_from=str(tmp_path / "rgb"), init_roles=["ue", "ud"])
    luma.encoder = {**VI_SMALL, "code": "luma"}
    train_uunet(data, tmp_path / "luma", luma, attributes=da, quiet=True)
    card = json.loads((tmp_path / "luma" / "ue.json").read_text())
    assert card["architecture"]["config"]["code"] == "luma"
    enc = FaceEncoder.from_file(tmp_path / "luma" / "ue.safetensors")
    assert enc.encode(np.zeros((1, 64, 64, 3), np.uint8), [3]).shape == (1, 64, 64, 3)
    other = _vi_config(bank, steps=1, init_from=str(tmp_path / "rgb"), init_roles=["ue"])
    other.encoder = {**VI_SMALL, "lowpass": 4}
    with pytest.raises(InputError, match="different architecture"):
        train_uunet(data, tmp_path / "other", other, attributes=da, quiet=True)
