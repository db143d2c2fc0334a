"""Cryptographic building blocks of the custody core, all from pyca ``cryptography``.

Passphrase KDF (Argon2id, parameters stored beside every blob it protects), AES-256-GCM,
Ed25519 signatures and X25519 key wrapping (ephemeral ECDH + HKDF-SHA256 + AES-GCM).
Every failure to verify or decrypt becomes a :class:`VerificationError` at this boundary.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from forensics_app.errors import AuthError, InputError, VerificationError

#: Environment variable selecting the KDF profile for *new* blobs ("default" or "fast").
KDF_PROFILE_ENV = "FORENSICS_KDF_PROFILE"
_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw
_RAW_PRIV = serialization.PrivateFormat.Raw
_NO_ENC = serialization.NoEncryption()


def b64e(data: bytes) -> str:
    """Standard base64 text of ``data``."""
    return base64.b64encode(data).decode("ascii")


def b64d(text: str, what: str = "field") -> bytes:
    """Decode base64 text, or raise a one-line VerificationError naming ``what``."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, AttributeError, UnicodeError):
        raise VerificationError(f"malformed base64 in {what}") from None


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """The canonical bytes of a JSON document: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters; stored with each protected blob so old blobs stay readable."""

    algorithm: str = "argon2id"
    iterations: int = 3
    memory_kib: int = 65536
    lanes: int = 1
    salt: str = ""

    @classmethod
    def new(cls, profile: str | None = None) -> KdfParams:
        """Fresh parameters with a random salt; ``fast`` is for tests only (env or argument)."""
        profile = profile or os.environ.get(KDF_PROFILE_ENV, "default")
        salt = b64e(os.urandom(16))
        if profile == "fast":
            return cls(iterations=1, memory_kib=64, lanes=1, salt=salt)
        if profile != "default":
            raise InputError(f"unknown KDF profile {profile!r} (use default or fast)")
        return cls(salt=salt)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KdfParams:
        if data.get("algorithm") != "argon2id":
            raise VerificationError(f"unsupported KDF {data.get('algorithm')!r}")
        return cls(
            algorithm="argon2id",
            iterations=int(data["iterations"]),
            memory_kib=int(data["memory_kib"]),
            lanes=int(data["lanes"]),
            salt=str(data["salt"]),
        )

    def derive(self, passphrase: str) -> bytes:
        """The 32-byte key this passphrase gives under these parameters."""
        kdf = Argon2id(
            salt=b64d(self.salt, "KDF salt"),
            length=32,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        )
        return kdf.derive(passphrase.encode("utf-8"))


def aead_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """AES-256-GCM: return (nonce, ciphertext-with-tag)."""
    nonce = os.urandom(12)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, what: str) -> bytes:
    """AES-256-GCM decryption; a wrong key or any altered byte raises VerificationError."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError):
        raise VerificationError(f"{what}: authentication failed (altered or wrong key)") from None


def seal_with_passphrase(secret: bytes, passphrase: str, aad: bytes, kdf: KdfParams) -> dict:
    """Encrypt ``secret`` under a passphrase-derived key; returns a JSON-able blob."""
    nonce, ct = aead_encrypt(kdf.derive(passphrase), secret, aad)
    return {"kdf": kdf.to_dict(), "nonce": b64e(nonce), "ciphertext": b64e(ct)}


def open_with_passphrase(blob: dict, passphrase: str, aad: bytes) -> bytes:
    """Decrypt a passphrase blob; a wrong passphrase raises AuthError."""
    kdf = KdfParams.from_dict(blob["kdf"])
    key = kdf.derive(passphrase)
    try:
        return AESGCM(key).decrypt(b64d(blob["nonce"]), b64d(blob["ciphertext"]), aad)
    except InvalidTag:
        raise AuthError("wrong passphrase") from None


# --- Ed25519 -------------------------------------------------------------------------------


def ed_public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(_RAW, _RAW_PUB)


def ed_private_raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(_RAW, _RAW_PRIV, _NO_ENC)


def key_id(public_raw: bytes) -> str:
    """Short stable identifier of a public key: first 16 hex digits of its SHA-256."""
    return sha256_hex(public_raw)[:16]


def ed_public_from_b64(text: str, what: str = "public key") -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(b64d(text, what))
    except ValueError:
        raise VerificationError(f"malformed Ed25519 {what}") from None


def verify_signature(public: Ed25519PublicKey, signature_b64: str, data: bytes, what: str) -> None:
    """Verify an Ed25519 signature; raises VerificationError naming ``what``."""
    try:
        public.verify(b64d(signature_b64, f"{what} signature"), data)
    except InvalidSignature:
        raise VerificationError(f"{what}: bad signature") from None


# --- X25519 wrapping -----------------------------------------------------------------------


def x_public_raw(key: X25519PrivateKey | X25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return pub.public_bytes(_RAW, _RAW_PUB)


def x_private_raw(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(_RAW, _RAW_PRIV, _NO_ENC)


def x_public_from_b64(text: str, what: str = "X25519 key") -> X25519PublicKey:
    try:
        return X25519PublicKey.from_public_bytes(b64d(text, what))
    except ValueError:
        raise VerificationError(f"malformed {what}") from None


def _wrap_kek(shared: bytes, epk: bytes, rpk: bytes, context: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + rpk, info=b"uunet-wrap|" + context)
    return hkdf.derive(shared)


def wrap_key(data_key: bytes, recipient: X25519PublicKey, context: bytes) -> dict[str, str]:
    """Wrap ``data_key`` to ``recipient``: ephemeral X25519 ECDH, HKDF-SHA256, AES-GCM."""
    eph = X25519PrivateKey.generate()
    epk, rpk = x_public_raw(eph), x_public_raw(recipient)
    kek = _wrap_kek(eph.exchange(recipient), epk, rpk, context)
    nonce, ct = aead_encrypt(kek, data_key, context)
    return {"epk": b64e(epk), "nonce": b64e(nonce), "ciphertext": b64e(ct)}


def unwrap_key(wrapped: dict[str, str], private: X25519PrivateKey, context: bytes) -> bytes:
    """Recover a wrapped data key; any mismatch raises VerificationError."""
    try:
        epk_raw = b64d(wrapped["epk"], "wrapped key")
        epk = X25519PublicKey.from_public_bytes(epk_raw)
        nonce, ct = b64d(wrapped["nonce"]), b64d(wrapped["ciphertext"])
    except (KeyError, TypeError, ValueError):
        raise VerificationError("malformed wrapped key") from None
    kek = _wrap_kek(private.exchange(epk), epk_raw, x_public_raw(private), context)
    return aead_decrypt(kek, nonce, ct, context, "wrapped data key")
