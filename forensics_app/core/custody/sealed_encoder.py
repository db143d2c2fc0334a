"""The camera's sealed encoder: U_e encrypted under a camera passphrase (DESIGN §4).

Whoever holds U_e can make (x, a) pairs and train an inverse of their own, so a camera
that wants to can keep U_e only sealed. The file has the sealed decoder's layout
(:func:`~forensics_app.core.custody.sealed.split_sealed`, see docs/FORMATS.md "Sealed
encoder"): magic, canonical header JSON, AES-256-GCM ciphertext of the safetensors bytes
under a random data key, with the header as associated data. The header holds a single
passphrase slot instead of the decoder's supervisor slots: the data key under an
Argon2id-derived key (:func:`~forensics_app.core.custody.crypto.seal_with_passphrase`). No
workspace and no signature: a camera has no admin key to check one against, and the GCM tag
already authenticates header and weights to whoever holds the passphrase.

Opening decrypts into memory only and checks the plaintext's sha256 against the header
and the model card inside it; nothing here writes plaintext weights.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from forensics_app.core.custody.audit import now_times
from forensics_app.core.custody.crypto import (
    KdfParams,
    aead_decrypt,
    b64d,
    b64e,
    canonical_json,
    open_with_passphrase,
    seal_with_passphrase,
)
from forensics_app.core.custody.sealed import (
    SealedFile,
    _atomic_write,
    _check_safetensors,
    split_sealed,
    wipe_file,
)
from forensics_app.core.custody.users import MIN_PASSPHRASE
from forensics_app.errors import AuthError, InputError, ModelError, VerificationError

FORMAT = "uunet-sealed-encoder"
VERSION = 1
#: Bounds on the stored Argon2id parameters: a file from elsewhere must not make the camera
#: allocate gigabytes or spin for minutes before the passphrase is even checked.
MAX_KDF_MEMORY_KIB = 1 << 20
MAX_KDF_ITERATIONS = 64
MAX_KDF_LANES = 16


def slot_context(model_sha256: str) -> bytes:
    """AAD of the passphrase slot, binding it to the weights it opens."""
    return f"uunet-sealed-encoder-slot|v1|{model_sha256}".encode()


@dataclass(frozen=True)
class SealedEncoder(SealedFile):
    """A parsed sealed U_e: its header and ciphertext (never the plaintext)."""

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedEncoder:
        """Parse the layout and the header's fields; the contents are checked by :meth:`open`."""
        header, header_bytes, ciphertext = split_sealed(data, FORMAT, "sealed encoder")
        if header.get("version") != VERSION:
            raise VerificationError(f"unsupported sealed encoder version {header.get('version')!r}")
        try:
            sha = header["plaintext_sha256"]
            card, slot = header["card"], header["slot"]
            kdf = slot["kdf"]
            ok = isinstance(card, dict) and isinstance(kdf, dict) and isinstance(sha, str)
        except (KeyError, TypeError):
            ok = False
        if not ok:
            raise VerificationError("sealed encoder header is missing fields (altered)")
        return cls(header, header_bytes, ciphertext)

    @classmethod
    def load(cls, path: str | Path) -> SealedEncoder:
        """Read and parse a sealed encoder file; a missing or unreadable file is ModelError."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ModelError(f"cannot read sealed encoder {path}: {error.strerror}") from None
        return cls.from_bytes(data)

    def open(self, passphrase: str) -> bytes:
        """The plaintext safetensors bytes, in memory only.

        A wrong passphrase is :class:`AuthError`; an altered header or ciphertext, or weights
        whose sha256 differs from the header's or the card's, is :class:`VerificationError`.
        """
        slot = self.header["slot"]
        _check_kdf_bounds(slot["kdf"])
        try:
            data_key = open_with_passphrase(slot, passphrase, slot_context(self.model_sha256))
        except AuthError:
            raise AuthError(
                "wrong passphrase for the sealed encoder (or its key slot was altered)"
            ) from None
        except (KeyError, TypeError, ValueError):
            raise VerificationError("sealed encoder key slot is malformed (altered)") from None
        try:
            nonce = b64d(self.header["nonce"], "sealed encoder nonce")
        except KeyError:
            raise VerificationError("sealed encoder header has no nonce") from None
        plain = aead_decrypt(data_key, nonce, self.ciphertext, self.header_bytes, "sealed encoder")
        digest = hashlib.sha256(plain).hexdigest()
        if digest != self.model_sha256 or digest != self.card.get("sha256"):
            raise VerificationError("sealed encoder weights do not match their pinned sha256")
        return plain


def _check_kdf_bounds(kdf: dict[str, Any]) -> None:
    try:
        memory, iterations, lanes = (
            int(kdf["memory_kib"]),
            int(kdf["iterations"]),
            int(kdf["lanes"]),
        )
    except (KeyError, TypeError, ValueError):
        raise VerificationError("sealed encoder KDF parameters are malformed (altered)") from None
    if not (
        0 < memory <= MAX_KDF_MEMORY_KIB
        and 0 < iterations <= MAX_KDF_ITERATIONS
        and 0 < lanes <= MAX_KDF_LANES
    ):
        raise VerificationError("sealed encoder KDF parameters are out of range (altered)")


def seal_encoder_bytes(
    weights: bytes, card: dict[str, Any], passphrase: str, kdf: KdfParams | None = None
) -> SealedEncoder:
    """Seal U_e's safetensors ``weights`` with its ``card`` under a camera ``passphrase``.

    The card must be an encoder's and pin exactly these weights, so the camera can check
    what it decrypted against it. ``kdf`` defaults to fresh Argon2id parameters.
    """
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError(f"the camera passphrase is too short (at least {MIN_PASSPHRASE} chars)")
    if card.get("role") != "encoder":
        raise ModelError(f"the model card is a {card.get('role')!r}, not an encoder (U_e)")
    _check_safetensors(weights)
    sha = hashlib.sha256(weights).hexdigest()
    if card.get("sha256") != sha:
        raise ModelError(f"the model card pins sha256 {card.get('sha256')}, the weights are {sha}")
    data_key, nonce = os.urandom(32), os.urandom(12)
    created, _ = now_times()
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created": created,
        "card": card,
        "plaintext_sha256": sha,
        "plaintext_size": len(weights),
        "plaintext_format": "safetensors",
        "cipher": "AES-256-GCM",
        "nonce": b64e(nonce),
        "slot": seal_with_passphrase(
            data_key, passphrase, slot_context(sha), kdf or KdfParams.new()
        ),
    }
    header_bytes = canonical_json(header)
    ciphertext = AESGCM(data_key).encrypt(nonce, weights, header_bytes)
    return SealedEncoder(header, header_bytes, ciphertext)


def seal_encoder(
    weights_path: str | Path, card: dict[str, Any], passphrase: str, out: str | Path
) -> SealedEncoder:
    """Seal the U_e file ``weights_path`` to ``out`` (temporary file + ``os.replace``).

    The written file is read back and opened before this returns, so a caller may then
    destroy the plaintext knowing the sealed copy works.
    """
    try:
        weights = Path(weights_path).read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read weights {weights_path}: {error.strerror}") from None
    sealed = seal_encoder_bytes(weights, card, passphrase)
    del weights
    _atomic_write(Path(out), sealed.to_bytes())
    SealedEncoder.load(out).open(passphrase)
    return sealed


def open_sealed_encoder(path: str | Path, passphrase: str) -> tuple[bytes, dict[str, Any]]:
    """The decrypted U_e weights (memory only) and the model card sealed with them."""
    sealed = SealedEncoder.load(path)
    return sealed.open(passphrase), sealed.card


def destroy_encoder_plaintext(weights_path: str | Path, sealed: SealedEncoder) -> None:
    """Overwrite and delete the plaintext U_e once ``sealed`` (already opened) holds it.

    The file must still be exactly the sealed weights (sha256), else nothing is destroyed.
    Best effort on the medium, like :func:`~forensics_app.core.custody.sealed.wipe_file`.
    """
    path = Path(weights_path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read {path}: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != sealed.model_sha256:
        raise ModelError(f"{path} is not the sealed encoder {sealed.model_sha256[:16]}…; kept")
    wipe_file(path, len(data))
