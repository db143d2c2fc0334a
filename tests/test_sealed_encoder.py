"""The camera's sealed U_e (DESIGN §4): sealed under a passphrase, opened in memory only,
and every wrong key, altered byte or missing file refused in one line with nothing written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from forensics_app import cli
from forensics_app.core.custody.crypto import canonical_json
from forensics_app.core.custody.sealed import MAGIC
from forensics_app.core.custody.sealed_encoder import (
    SealedEncoder,
    open_sealed_encoder,
    seal_encoder,
    seal_encoder_bytes,
)
from forensics_app.errors import AuthError, InputError, ModelError, VerificationError
from forensics_app.uunet.export import read_card
from forensics_app.uunet.inference import FaceEncoder

PASSPHRASE = "camera-7 passphrase"


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_KDF_PROFILE", "fast")


@pytest.fixture
def plain_encoder(tmp_path: Path) -> Path:
    """A small random U_e written as released weights + card (what `train` exports)."""
    import torch

    from forensics_app.uunet.export import export_model
    from forensics_app.uunet.networks import build_network

    torch.manual_seed(0)
    path = tmp_path / "models" / "ue.safetensors"
    module = build_network("unet_encoder", base=8, depth=2)
    export_model(module, "unet_encoder", {"base": 8, "depth": 2}, path, role="encoder")
    return path


@pytest.fixture
def sealed_file(tmp_path: Path, plain_encoder: Path) -> Path:
    out = tmp_path / "ue.sealed"
    seal_encoder(plain_encoder, read_card(plain_encoder.with_suffix(".json")), PASSPHRASE, out)
    return out


def _passphrase_file(tmp_path: Path, text: str = PASSPHRASE) -> Path:
    path = tmp_path / "camera.pass"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _rewrite_header(path: Path, change) -> None:
    """Re-frame the file with an edited header (as an attacker with a hex editor would)."""
    sealed = SealedEncoder.load(path)
    header = json.loads(sealed.header_bytes)
    change(header)
    body = canonical_json(header)
    path.write_bytes(MAGIC + len(body).to_bytes(4, "little") + body + sealed.ciphertext)


# --- core -----------------------------------------------------------------------------------


def test_sealed_encoder_opens_in_memory_to_the_exact_weights(
    plain_encoder: Path, sealed_file: Path
) -> None:
    weights = plain_encoder.read_bytes()
    data = sealed_file.read_bytes()
    assert data.startswith(MAGIC)
    assert weights[-256:] not in data  # the tensors are not in the file in clear
    sealed = SealedEncoder.load(sealed_file)
    assert sealed.header["format"] == "uunet-sealed-encoder"
    assert sealed.model_sha256 == hashlib.sha256(weights).hexdigest() == sealed.card["sha256"]
    plain, card = open_sealed_encoder(sealed_file, PASSPHRASE)
    assert plain == weights
    assert FaceEncoder.from_bytes(plain, card).sha256 == sealed.model_sha256


def test_wrong_passphrase_is_refused(sealed_file: Path) -> None:
    with pytest.raises(AuthError, match="wrong passphrase for the sealed encoder"):
        open_sealed_encoder(sealed_file, "not the camera passphrase")


@pytest.mark.parametrize("where", ["ciphertext", "tag", "header"])
def test_a_flipped_byte_anywhere_is_refused(sealed_file: Path, where: str) -> None:
    data = bytearray(sealed_file.read_bytes())
    header_end = 12 + int.from_bytes(data[8:12], "little")
    index = {"ciphertext": header_end + 100, "tag": len(data) - 1}.get(where)
    if index is None:  # a byte inside the card's architecture name, still valid JSON
        index = data.index(b'"unet_encoder"') + 2
    data[index] ^= 0x01
    sealed_file.write_bytes(bytes(data))
    with pytest.raises(VerificationError):
        open_sealed_encoder(sealed_file, PASSPHRASE)


def test_an_edited_card_or_pinned_sha256_is_refused(sealed_file: Path) -> None:
    # pointing the card at other weights cannot pass: the header is the GCM associated data
    _rewrite_header(sealed_file, lambda h: h["card"].update(sha256="0" * 64))
    with pytest.raises(VerificationError, match="authentication failed"):
        open_sealed_encoder(sealed_file, PASSPHRASE)


def test_a_kdf_bomb_in_the_header_is_refused_before_any_derivation(sealed_file: Path) -> None:
    _rewrite_header(sealed_file, lambda h: h["slot"]["kdf"].update(memory_kib=1 << 30))
    with pytest.raises(VerificationError, match="KDF parameters are out of range"):
        open_sealed_encoder(sealed_file, PASSPHRASE)


def test_truncated_foreign_and_missing_files_are_refused(tmp_path: Path, sealed_file: Path) -> None:
    data = sealed_file.read_bytes()
    sealed_file.write_bytes(data[:40])
    with pytest.raises(VerificationError, match="header length is out of range"):
        SealedEncoder.load(sealed_file)
    sealed_file.write_bytes(b"PK\x03\x04" + data[4:])
    with pytest.raises(VerificationError, match="bad magic"):
        SealedEncoder.load(sealed_file)
    with pytest.raises(ModelError, match="cannot read sealed encoder"):
        SealedEncoder.load(tmp_path / "absent.sealed")


def test_sealing_refuses_a_decoder_card_a_wrong_card_and_a_short_passphrase(
    plain_encoder: Path,
) -> None:
    weights = plain_encoder.read_bytes()
    card = read_card(plain_encoder.with_suffix(".json"))
    with pytest.raises(ModelError, match="not an encoder"):
        seal_encoder_bytes(weights, {**card, "role": "decoder"}, PASSPHRASE)
    with pytest.raises(ModelError, match="pins sha256"):
        seal_encoder_bytes(weights, {**card, "sha256": "0" * 64}, PASSPHRASE)
    with pytest.raises(ModelError, match="not a safetensors"):
        seal_encoder_bytes(b"\x80\x04pickle", card, PASSPHRASE)
    with pytest.raises(InputError, match="too short"):
        seal_encoder_bytes(weights, card, "short")


# --- command line ---------------------------------------------------------------------------


def _deidentify(video: Path, out: Path, sealed: Path, passphrase: Path, *more: str) -> int:
    return cli.main(
        [
            "deidentify", str(video), "--out", str(out), "--sealed-encoder", str(sealed),
            "--passphrase-file", str(passphrase), "--max-frames", "3", "--quiet", *more,
        ]
    )  # fmt: skip


def test_cli_seal_destroy_plaintext_then_deidentify_from_the_sealed_file_only(
    tmp_path: Path,
    plain_encoder: Path,
    sample_video: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    weights_sha = hashlib.sha256(plain_encoder.read_bytes()).hexdigest()
    secret = _passphrase_file(tmp_path)
    sealed = tmp_path / "camera" / "ue.sealed"
    sealed.parent.mkdir()
    code = cli.main(
        [
            "seal-encoder", str(plain_encoder), "--out", str(sealed),
            "--passphrase-file", str(secret), "--destroy-plaintext",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and captured.out.strip() == weights_sha
    assert not plain_encoder.exists() and "destroyed the plaintext" in captured.err

    def no_plain_file(*_args: object) -> None:
        raise AssertionError("the sealed path must not load U_e from a plaintext file")

    monkeypatch.setattr(FaceEncoder, "from_file", classmethod(no_plain_file))
    out = tmp_path / "public.mkv"
    assert _deidentify(sample_video, out, sealed, secret, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["encoder_sha256"] == weights_sha and summary["frames"] == 3
    assert out.is_file()
    on_disk = {
        hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.rglob("*") if p.is_file()
    }
    assert weights_sha not in on_disk  # no plaintext U_e was written anywhere


@pytest.mark.parametrize("attack", ["wrong passphrase", "tampered file", "missing file"])
def test_cli_deidentify_refuses_in_one_line_and_writes_nothing(
    tmp_path: Path,
    sealed_file: Path,
    sample_video: Path,
    capsys: pytest.CaptureFixture[str],
    attack: str,
) -> None:
    secret = _passphrase_file(tmp_path)
    if attack == "wrong passphrase":
        secret = _passphrase_file(tmp_path, "a guessed passphrase")
        expected = "wrong passphrase for the sealed encoder"
    elif attack == "tampered file":
        data = bytearray(sealed_file.read_bytes())
        data[len(data) // 2] ^= 0x40
        sealed_file.write_bytes(bytes(data))
        expected = "authentication failed"
    else:
        sealed_file.unlink()
        expected = "cannot read sealed encoder"
    out = tmp_path / "public.mkv"
    code = _deidentify(sample_video, out, sealed_file, secret)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and expected in err[0], err
    assert not out.exists()
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith("public")) == []


def test_cli_encoder_and_sealed_encoder_together_are_refused(
    tmp_path: Path,
    plain_encoder: Path,
    sealed_file: Path,
    sample_video: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "public.mkv"
    secret = _passphrase_file(tmp_path)
    code = _deidentify(sample_video, out, sealed_file, secret, "--encoder", str(plain_encoder))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "not both" in err[0]
    assert not out.exists()
