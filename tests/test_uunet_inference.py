"""The inference API: export → load round trips, determinism, seeds, tampering."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from forensics_app.errors import InputError, ModelError, VerificationError
from forensics_app.uunet.checkpoint import load_checkpoint, save_checkpoint
from forensics_app.uunet.export import export_model, read_card
from forensics_app.uunet.inference import FaceDecoder, FaceEncoder, noise_map
from forensics_app.uunet.networks import build_network

CFG = {"base": 4, "depth": 3, "norm": "none", "inner_size": 32}
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def exported(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    ue = build_network("unet_encoder", **CFG)
    ud = build_network("unet_decoder", **CFG)
    torch.nn.init.normal_(ud.out.weight, std=0.5)  # a decoder whose output depends on input
    export_model(ue, "unet_encoder", CFG, tmp_path / "ue.safetensors", role="encoder")
    export_model(ud, "unet_decoder", CFG, tmp_path / "ud.safetensors", role="decoder")
    return tmp_path


def _faces(n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)


def test_card_holds_sha256_of_the_weights(exported: Path) -> None:
    import hashlib

    card = read_card(exported / "ud.json")
    digest = hashlib.sha256((exported / "ud.safetensors").read_bytes()).hexdigest()
    assert card["sha256"] == digest and card["architecture"]["config"] == CFG


def test_decoder_from_bytes_equals_from_file_and_is_deterministic(exported: Path) -> None:
    from_file = FaceDecoder.from_file(exported / "ud.safetensors")
    blob = (exported / "ud.safetensors").read_bytes()
    card = json.loads((exported / "ud.json").read_text())
    from_bytes = FaceDecoder.from_bytes(blob, card)
    faces = _faces()
    out = from_file.decode(faces)
    assert out.shape == faces.shape and out.dtype == np.uint8
    assert np.array_equal(out, from_bytes.decode(faces))
    assert np.array_equal(out, from_file.decode(faces.copy()))


def test_tampered_weights_are_refused(exported: Path) -> None:
    blob = bytearray((exported / "ud.safetensors").read_bytes())
    blob[-3] ^= 0x01
    card = json.loads((exported / "ud.json").read_text())
    with pytest.raises(VerificationError, match="sha256"):
        FaceDecoder.from_bytes(bytes(blob), card)
    (exported / "ud.safetensors").write_bytes(bytes(blob))
    with pytest.raises(VerificationError):
        FaceDecoder.from_file(exported / "ud.safetensors")


def test_wrong_role_and_missing_files(exported: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="expected 'decoder'"):
        FaceDecoder.from_file(exported / "ue.safetensors")
    with pytest.raises(ModelError, match="no model file"):
        FaceEncoder.from_file(tmp_path / "absent.safetensors")


def test_encoder_seeds(exported: Path) -> None:
    enc = FaceEncoder.from_file(exported / "ue.safetensors")
    face = _faces(1)
    same = enc.encode(np.concatenate([face, face]), [7, 7])
    other = enc.encode(face, [8])
    assert np.array_equal(same[0], same[1])
    assert not np.array_equal(same[0], other[0])
    assert np.array_equal(noise_map(7), noise_map(7))
    with pytest.raises(InputError, match="seeds"):
        enc.encode(face, [1, 2])
    with pytest.raises(InputError, match="seed"):
        enc.encode(face, [-1])


def test_bad_face_arrays(exported: Path) -> None:
    dec = FaceDecoder.from_file(exported / "ud.safetensors")
    with pytest.raises(InputError, match="N×64×64×3"):
        dec.decode(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        dec.decode(np.zeros((2, 64, 64, 3), np.float32))


def test_checkpoint_round_trip_and_refuses_garbage(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"arch": {}, "config": {"a": 1}, "state_dict": {"w": torch.ones(2)},
                           "optimizer": {}, "step": 4})  # fmt: skip
    data = load_checkpoint(path)
    assert (
        data["step"] == 4
        and data["version"] == 1
        and torch.equal(data["state_dict"]["w"], torch.ones(2))
    )
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        load_checkpoint(path)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.skipif(not (REPO / "models" / "ud.safetensors").is_file(), reason="no shipped models")
def test_shipped_models_load_and_match_their_cards() -> None:
    enc = FaceEncoder.from_file(REPO / "models" / "ue.safetensors")
    dec = FaceDecoder.from_file(REPO / "models" / "ud.safetensors")
    faces = _faces(2)
    a = enc.encode(faces, [1, 2])
    assert dec.decode(a).shape == faces.shape
    for name in ("ue", "ud", "da"):
        assert (REPO / "models" / f"{name}.safetensors").stat().st_size <= 10 * 2**20
