"""Custody crypto primitives and RFC 6962 Merkle hashing, each with its tampered twin."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from forensics_app.core.custody import merkle
from forensics_app.core.custody.crypto import (
    KdfParams,
    open_with_passphrase,
    seal_with_passphrase,
    unwrap_key,
    wrap_key,
)
from forensics_app.errors import AuthError, InputError, VerificationError

# RFC 6962 / certificate-transparency reference leaves and roots for sizes 1..8.
CT_LEAVES = [
    b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70)),
]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_default_kdf_is_the_tuned_argon2id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORENSICS_KDF_PROFILE", raising=False)
    params = KdfParams.new()
    assert (params.algorithm, params.iterations, params.memory_kib, params.lanes) == (
        "argon2id", 3, 65536, 1,
    )  # fmt: skip
    fast = KdfParams.new("fast")
    assert fast.memory_kib < params.memory_kib
    with pytest.raises(InputError):
        KdfParams.new("turbo")


def test_passphrase_blob_roundtrip_and_wrong_passphrase() -> None:
    blob = seal_with_passphrase(b"secret keys", "correct horse", b"aad", KdfParams.new("fast"))
    assert open_with_passphrase(blob, "correct horse", b"aad") == b"secret keys"
    with pytest.raises(AuthError):
        open_with_passphrase(blob, "wrong horse!", b"aad")
    with pytest.raises(AuthError):  # associated data (name/role) changed
        open_with_passphrase(blob, "correct horse", b"other")


def test_x25519_wrap_roundtrip_and_tampering() -> None:
    recipient, other = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    key = os.urandom(32)
    wrapped = wrap_key(key, recipient.public_key(), b"ctx")
    assert unwrap_key(wrapped, recipient, b"ctx") == key
    with pytest.raises(VerificationError):
        unwrap_key(wrapped, other, b"ctx")
    with pytest.raises(VerificationError):
        unwrap_key(wrapped, recipient, b"another context")
    ct = bytearray(__import__("base64").b64decode(wrapped["ciphertext"]))
    ct[0] ^= 1
    bad = {**wrapped, "ciphertext": __import__("base64").b64encode(bytes(ct)).decode()}
    with pytest.raises(VerificationError):
        unwrap_key(bad, recipient, b"ctx")


def test_merkle_roots_match_certificate_transparency_vectors() -> None:
    assert merkle.root_of([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    for n in range(1, 9):
        assert merkle.root_of(CT_LEAVES[:n]).hex() == CT_ROOTS[n - 1], n


def test_inclusion_proofs_verify_for_every_leaf_and_fail_when_tampered() -> None:
    leaves = [bytes([i]) * 32 for i in range(13)]
    for size in range(1, 14):
        root = merkle.root_of(leaves[:size])
        for index in range(size):
            path = merkle.inclusion_path(index, leaves[:size])
            merkle.verify_inclusion(leaves[index], index, size, path, root)
            if path:
                bad = list(path)
                bad[0] = bytes(32)
                with pytest.raises(VerificationError):
                    merkle.verify_inclusion(leaves[index], index, size, bad, root)
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(b"x" * 32, index, size, path, root)
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(leaves[0], 5, 3, [], merkle.root_of(leaves[:3]))
