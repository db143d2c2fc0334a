"""RFC 6962 Merkle tree hashing (leaf prefix 0x00, node prefix 0x01) and inclusion proofs.

Pure functions over 32-byte leaf data, usable by a verifier that holds public data only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from forensics_app.errors import VerificationError

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """MTH of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """Incremental tree state: the roots of the perfect subtrees of the leaves seen so far.

    ``root()`` equals RFC 6962 MTH of all leaves added; O(1) amortised per leaf.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, hash), heights strictly falling
        self.size = 0

    def add_leaf_hash(self, h: bytes) -> None:
        height = 0
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            h = node_hash(left, h)
            height += 1
        self._stack.append((height, h))
        self.size += 1

    def add(self, data: bytes) -> None:
        self.add_leaf_hash(leaf_hash(data))

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            acc = node_hash(h, acc)
        return acc


def root_of(leaves: Iterable[bytes]) -> bytes:
    """MTH of a sequence of leaf data."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.add(leaf)
    return frontier.root()


def _subtree_root(hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_subtree_root(hashes[:k]), _subtree_root(hashes[k:]))


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 PATH(index, D[n]) over leaf *data*; sibling hashes, bottom first."""
    if not 0 <= index < len(leaves):
        raise VerificationError(f"leaf {index} is outside a tree of size {len(leaves)}")
    hashes = [leaf_hash(x) for x in leaves]
    path: list[bytes] = []

    def walk(m: int, nodes: Sequence[bytes]) -> None:
        if len(nodes) <= 1:
            return
        k = 1 << ((len(nodes) - 1).bit_length() - 1)
        if m < k:
            walk(m, nodes[:k])
            path.append(_subtree_root(nodes[k:]))
        else:
            walk(m - k, nodes[k:])
            path.append(_subtree_root(nodes[:k]))

    walk(index, hashes)
    return path


def verify_inclusion(
    data: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf ``data`` sits at ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2; raises VerificationError, never returns False.
    """
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} outside tree size {size}")
    fn, sn = index, size - 1
    r = leaf_hash(data)
    for p in path:
        if sn == 0:
            raise VerificationError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is too short")
    if r != root:
        raise VerificationError("inclusion proof does not lead to the checkpoint root")
