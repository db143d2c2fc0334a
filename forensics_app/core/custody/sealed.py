"""The sealed model file: model weights encrypted for named supervisor holders.

Layout (see docs/FORMATS.md "Sealed model")::

    b"UUNSEAL\\x01" | u32 LE header length | header JSON (canonical UTF-8) | AES-256-GCM ciphertext

The header (format version, model card, plaintext sha256 and size, nonce, one key slot per
holder with the data key wrapped to the holder's X25519 key, signer) is signed by an admin
and is the AES-GCM associated data, so any flipped byte in header or ciphertext is refused.
Opening decrypts into memory only and checks the plaintext sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from forensics_app.core.atomic import PUBLIC, atomic_write_bytes
from forensics_app.core.custody.audit import now_times
from forensics_app.core.custody.crypto import (
    aead_decrypt,
    b64d,
    b64e,
    canonical_json,
    ed_public_from_b64,
    verify_signature,
    wrap_key,
)
from forensics_app.core.custody.users import User, UserSession, get_user
from forensics_app.core.custody.workspace import Workspace
from forensics_app.errors import InputError, ModelError, PermissionDenied, VerificationError

MAGIC = b"UUNSEAL\x01"
FORMAT = "uunet-sealed-model"
VERSION = 1
MAX_HEADER = 1 << 20


def split_sealed(data: bytes, fmt: str, what: str) -> tuple[dict[str, Any], bytes, bytes]:
    """The header (parsed), header bytes and ciphertext of a ``UUNSEAL`` file of format ``fmt``.

    Shared by the sealed decoder and the camera's sealed encoder, so both files have one
    layout; nothing here is trusted until the AES-GCM tag over header and ciphertext holds.
    """
    if data[: len(MAGIC)] != MAGIC:
        raise VerificationError(f"not a {what} (bad magic)")
    if len(data) < len(MAGIC) + 4:
        raise VerificationError(f"{what} is truncated")
    (n,) = struct.unpack("<I", data[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if n > MAX_HEADER or start + n > len(data):
        raise VerificationError(f"{what} header length is out of range")
    header_bytes = data[start : start + n]
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VerificationError(f"{what} header is not valid JSON (altered)") from None
    if not isinstance(header, dict) or header.get("format") != fmt:
        raise VerificationError(f"{what} header has the wrong format tag")
    return header, header_bytes, data[start + n :]


def slot_context(model_sha256: str, holder: str) -> bytes:
    """HKDF info / AAD binding a key slot to its model and holder."""
    return f"uunet-sealed-slot|v1|{model_sha256}|{holder}".encode()


@dataclass(frozen=True)
class SealedFile:
    """A parsed ``UUNSEAL`` file: its header, the header's exact bytes (the AES-GCM
    associated data) and the ciphertext, never the plaintext. :meth:`to_bytes` is the
    inverse of :func:`split_sealed`; the sealed decoder and the camera's sealed encoder add
    what their own headers hold."""

    header: dict[str, Any]
    header_bytes: bytes
    ciphertext: bytes

    @property
    def model_sha256(self) -> str:
        return str(self.header["plaintext_sha256"])

    @property
    def card(self) -> dict[str, Any]:
        return dict(self.header["card"])

    def to_bytes(self) -> bytes:
        return (
            MAGIC + struct.pack("<I", len(self.header_bytes)) + self.header_bytes + self.ciphertext
        )


@dataclass(frozen=True)
class SealedModel(SealedFile):
    """A parsed sealed model: its signed header and ciphertext (never the plaintext)."""

    @property
    def holders(self) -> list[str]:
        return [s["holder"] for s in self.header["slots"]]

    @property
    def signer(self) -> str:
        return str(self.header["signer"]["name"])

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedModel:
        """Parse and check the header signature (against the key named in the header)."""
        header, header_bytes, ciphertext = split_sealed(data, FORMAT, "sealed model")
        if header.get("version") != VERSION:
            raise VerificationError(f"unsupported sealed model version {header.get('version')!r}")
        model = cls(header, header_bytes, ciphertext)
        model._verify_signature()
        return model

    @classmethod
    def load(cls, path: str | Path) -> SealedModel:
        try:
            return cls.from_bytes(Path(path).read_bytes())
        except OSError as error:
            raise ModelError(f"cannot read sealed model {path}: {error.strerror}") from None

    def _verify_signature(self) -> None:
        try:
            body = {k: v for k, v in self.header.items() if k != "signature"}
            signer = self.header["signer"]
            public = ed_public_from_b64(signer["ed25519_public"], "sealed model signer key")
            verify_signature(public, self.header["signature"], canonical_json(body), "sealed model")
        except (KeyError, TypeError):
            raise VerificationError("sealed model header is missing fields") from None

    def verify_signer(self, ws: Workspace) -> None:
        """The signer must be an admin of ``ws`` whose registered key signed the header."""
        signer = get_user(ws, self.signer)
        if signer.role != "admin":
            raise VerificationError(f"sealed model signed by {signer.name}, who is not an admin")
        if signer.ed25519_public != self.header["signer"]["ed25519_public"]:
            raise VerificationError("sealed model signed with a key that is not its signer's")

    def slot(self, holder: str) -> dict[str, str]:
        for slot in self.header["slots"]:
            if slot["holder"] == holder:
                return dict(slot["wrapped"])
        raise PermissionDenied(f"{holder} holds no key slot of sealed model {self.model_sha256}")

    def data_key_for(self, session: UserSession) -> bytes:
        """Unwrap the data key from ``session``'s own slot."""
        return session.unwrap(
            self.slot(session.name), slot_context(self.model_sha256, session.name)
        )

    def decrypt(self, data_key: bytes) -> bytes:
        """The plaintext weights, in memory; checks GCM tag and the pinned sha256."""
        try:
            nonce = b64d(self.header["nonce"], "sealed model nonce")
        except KeyError:
            raise VerificationError("sealed model header has no nonce") from None
        plain = aead_decrypt(data_key, nonce, self.ciphertext, self.header_bytes, "sealed model")
        if hashlib.sha256(plain).hexdigest() != self.model_sha256:
            raise VerificationError("sealed model plaintext does not match its pinned sha256")
        return plain


def seal_bytes(
    weights: bytes, card: dict[str, Any], holders: list[User], admin: UserSession
) -> SealedModel:
    """Seal ``weights`` (safetensors bytes) for ``holders`` (supervisors), signed by ``admin``."""
    if admin.role != "admin":
        raise PermissionDenied(f"{admin.name} has role {admin.role}; only an admin may seal models")
    if not holders:
        raise InputError("a sealed model needs at least one holder")
    for holder in holders:
        if holder.role != "supervisor":
            raise PermissionDenied(
                f"{holder.name} has role {holder.role}; holders must be supervisors"
            )
    if len({h.name for h in holders}) != len(holders):
        raise InputError("a holder is listed twice")
    _check_safetensors(weights)
    model_sha = hashlib.sha256(weights).hexdigest()
    if card.get("sha256") not in (None, model_sha):
        raise ModelError(
            f"the model card pins sha256 {card['sha256']}, the weights are {model_sha}"
        )
    data_key = os.urandom(32)
    nonce = os.urandom(12)
    created, _ = now_times()
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created": created,
        "card": card,
        "plaintext_sha256": model_sha,
        "plaintext_size": len(weights),
        "plaintext_format": "safetensors",
        "cipher": "AES-256-GCM",
        "nonce": b64e(nonce),
        "slots": [
            {
                "holder": h.name,
                "key_id": h.key_id,
                "x25519_public": h.x25519_public,
                "wrapped": wrap_key(data_key, h.wrap_key(), slot_context(model_sha, h.name)),
            }
            for h in holders
        ],
        "signer": {
            "name": admin.name,
            "key_id": admin.user.key_id,
            "ed25519_public": admin.user.ed25519_public,
        },
    }
    header["signature"] = admin.sign(canonical_json(header))
    header_bytes = canonical_json(header)
    ciphertext = AESGCM(data_key).encrypt(nonce, weights, header_bytes)
    return SealedModel(header, header_bytes, ciphertext)


def _check_safetensors(data: bytes) -> None:
    """Refuse anything that is not a safetensors file (no pickles get sealed)."""
    if len(data) < 8:
        raise ModelError("weights are not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", data[:8])
    try:
        if n > len(data) - 8:
            raise ValueError
        meta = json.loads(data[8 : 8 + n])
        if not isinstance(meta, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise ModelError("weights are not a safetensors file") from None


def seal_model(
    ws: Workspace,
    weights_path: str | Path,
    card: dict[str, Any],
    holders: list[str],
    admin: UserSession,
    out: str | Path | None = None,
) -> SealedModel:
    """Seal a safetensors file for the named supervisors, register it in ``ws``, log it.

    The sealed file is written to ``out`` (if given) and kept in the workspace's ``sealed/``
    folder; both writes go through a temporary file and ``os.replace``.
    """
    try:
        weights = Path(weights_path).read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read weights {weights_path}: {error.strerror}") from None
    model = seal_bytes(weights, card, [get_user(ws, h) for h in holders], admin)
    del weights
    data = model.to_bytes()
    file_sha = hashlib.sha256(data).hexdigest()
    kept = ws.sealed_dir / f"{model.model_sha256}.sealed"
    with ws.store.transaction():
        ws.store.insert_sealed(
            {
                "model_sha256": model.model_sha256,
                "file_sha256": file_sha,
                "path": str(kept),
                "header": model.header_bytes.decode(),
                "created": model.header["created"],
            }
        )
        ws.audit.append(
            admin.name,
            admin.role,
            "seal",
            object=f"model:{Path(weights_path).name}",
            object_sha256=model.model_sha256,
            details={"holders": holders, "sealed_file_sha256": file_sha, "out": str(out or kept)},
        )
        _atomic_write(kept, data)
        if out is not None:
            _atomic_write(Path(out), data)
    return model


def register_sealed(ws: Workspace, path: str | Path, session: UserSession) -> SealedModel:
    """Bring a sealed file made elsewhere into ``ws`` (its signer must be an admin here)."""
    model = SealedModel.load(path)
    model.verify_signer(ws)
    data = model.to_bytes()
    kept = ws.sealed_dir / f"{model.model_sha256}.sealed"
    with ws.store.transaction():
        ws.store.insert_sealed(
            {
                "model_sha256": model.model_sha256,
                "file_sha256": hashlib.sha256(data).hexdigest(),
                "path": str(kept),
                "header": model.header_bytes.decode(),
                "created": model.header["created"],
            }
        )
        ws.audit.append(
            session.name, session.role, "import", object=f"model:{Path(path).name}",
            object_sha256=model.model_sha256, details={"holders": model.holders},
        )  # fmt: skip
        _atomic_write(kept, data)
    return model


def load_sealed(ws: Workspace, model_sha256: str | None = None) -> SealedModel:
    """The registered sealed model (default: the newest), its file and signer re-checked."""
    if model_sha256 is None:
        rows = ws.store.list_sealed()
        if not rows:
            raise ModelError("this workspace has no sealed decoder (run 'forensics seal')")
        row = rows[0]
    else:
        found = ws.store.get_sealed(model_sha256)
        if found is None:
            raise ModelError(f"no sealed model {model_sha256} in this workspace")
        row = found
    try:
        data = Path(row["path"]).read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read sealed model {row['path']}: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != row["file_sha256"]:
        raise VerificationError(f"sealed model file {row['path']} was altered")
    model = SealedModel.from_bytes(data)
    if model.header_bytes.decode() != row["header"]:
        raise VerificationError("sealed model header differs from the registered one")
    model.verify_signer(ws)
    return model


def destroy_plaintext(
    ws: Workspace, admin: UserSession, weights_path: str | Path, model_sha256: str
) -> None:
    """Overwrite and delete the plaintext U_d once its sealed copy is in ``ws``.

    A deployment never keeps a plaintext decoder: whoever reads it can reveal every face
    without a grant. The file must still be exactly the sealed weights (sha256), and the
    sealed copy must load from the workspace, before anything is destroyed; logged as an
    ``erasure``. Best effort on the medium: on copy-on-write or flash storage an overwrite
    need not reach every physical copy, so keep U_d on encrypted storage until it is sealed.
    """
    if admin.role != "admin":
        raise PermissionDenied(f"{admin.name} has role {admin.role}; only an admin seals")
    path = Path(weights_path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read {path}: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != model_sha256:
        raise ModelError(f"{path} is not the sealed decoder {model_sha256[:16]}…; not destroyed")
    load_sealed(ws, model_sha256)  # the sealed copy is there and its signature holds
    size = len(data)
    del data
    with ws.store.transaction():
        ws.audit.append(
            admin.name, admin.role, "erasure", object=f"model:{path.name}",
            object_sha256=model_sha256,
            details={"path": str(path.resolve()), "bytes": size, "overwritten": True},
        )  # fmt: skip
        wipe_file(path, size)


def wipe_file(path: Path, size: int) -> None:
    """Overwrite the first ``size`` bytes of ``path`` with zeros, fsync, then delete it.

    Best effort on the medium (copy-on-write and flash storage may keep old blocks).
    """
    try:
        with open(path, "r+b") as handle:
            zeros = bytes(1 << 20)
            for start in range(0, size, len(zeros)):
                handle.write(zeros[: min(len(zeros), size - start)])
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
    except OSError as error:
        raise ModelError(f"cannot destroy {path}: {error.strerror}") from None


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with the sealed file ``data`` (encrypted: readable like any file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data, PUBLIC)
    except OSError as error:
        raise ModelError(f"cannot write sealed model {path}: {error.strerror}") from None
