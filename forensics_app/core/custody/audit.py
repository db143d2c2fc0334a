"""The append-only, hash-chained, signed audit log with RFC 6962 checkpoints.

Every custody action writes its row inside the same database transaction as the action
itself, so if the row cannot be written the action does not happen (fail closed). Each row
is hashed over its canonical JSON (including ``prev_hash``), signed with the workspace's
log key, and is a leaf of a Merkle tree whose root is signed in a checkpoint every
``checkpoint_every`` rows and on demand. :meth:`AuditLog.verify` recomputes all of it and
names the first bad row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from forensics_app.core.atomic import PUBLIC, atomic_write_bytes
from forensics_app.core.custody import merkle
from forensics_app.core.custody.crypto import (
    b64d,
    b64e,
    canonical_json,
    ed_public_from_b64,
    ed_public_raw,
    key_id,
    sha256_hex,
    verify_signature,
)
from forensics_app.core.custody.store import AUDIT_COLUMNS, Store
from forensics_app.errors import (
    AuthError,
    ForensicsError,
    InputError,
    PermissionDenied,
    VerificationError,
)

GENESIS = "0" * 64
ENTRY_DOMAIN = b"uunet-audit-entry|v1|"
CHECKPOINT_TYPE = "uunet-audit-checkpoint"

#: The actions the log knows (Directive (EU) 2016/680 Art. 25 vocabulary plus workflow steps).
ACTIONS = frozenset(
    {
        "collection", "consultation", "disclosure", "alteration", "erasure", "combination",
        "transfer", "login", "login_failed", "user_added", "case_created", "evidence_added",
        "request", "approval", "denial", "revocation", "reveal", "export", "import",
        "verification", "seal", "checkpoint", "report", "user_unlocked", "flag",
    }
)  # fmt: skip
ANCHOR_TYPE = "uunet-audit-anchor"
#: Actions after which a checkpoint is signed at once and the anchor beside the database
#: moved up: the decisions that hand out a key and every disclosure.
CHECKPOINT_ACTIONS = frozenset({"approval", "reveal", "disclosure", "export", "report"})
#: ``outcome`` of a custody action the rules refused (the reason is in ``details.reason``).
REFUSED = "denied"
#: The errors that mean "the custody rules said no" (logged by :meth:`AuditLog.refusals`).
REFUSAL_ERRORS: tuple[type[ForensicsError], ...] = (PermissionDenied, VerificationError, AuthError)
_HASHED = tuple(c for c in AUDIT_COLUMNS if c not in ("entry_hash", "signature"))


class AuditVerificationError(VerificationError):
    """The log does not verify; ``seq`` is the first bad entry (None: a checkpoint/key)."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


def now_times() -> tuple[str, str]:
    """(UTC ISO time with microseconds and 'Z', local UTC offset like '+01:00')."""
    now = datetime.now(UTC)
    local = now.astimezone()
    offset = local.strftime("%z")
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), f"{offset[:3]}:{offset[3:]}"


def entry_hash(row: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of every hashed field of an audit row."""
    return sha256_hex(canonical_json({c: row[c] for c in _HASHED}))


@dataclass(frozen=True)
class Checkpoint:
    """A signed Merkle root over the first ``size`` entries of a log."""

    log_id: str
    size: int
    root: str
    time: str
    key_id: str
    signature: str

    def body(self) -> dict[str, Any]:
        return {
            "type": CHECKPOINT_TYPE,
            "version": 1,
            "log_id": self.log_id,
            "size": self.size,
            "root": self.root,
            "time": self.time,
            "key_id": self.key_id,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": self.signature}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        if data.get("type") != CHECKPOINT_TYPE or data.get("version") != 1:
            raise VerificationError("not a version-1 audit checkpoint")
        try:
            return cls(
                log_id=str(data["log_id"]),
                size=int(data["size"]),
                root=str(data["root"]),
                time=str(data["time"]),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError):
            raise VerificationError("malformed audit checkpoint") from None

    def verify(self, public_key_b64: str) -> None:
        """Check the checkpoint's signature against the log's public key (public data only)."""
        public = ed_public_from_b64(public_key_b64, "log public key")
        if key_id(ed_public_raw(public)) != self.key_id:
            raise VerificationError(f"checkpoint {self.size}: signed by another key")
        verify_signature(public, self.signature, canonical_json(self.body()), "checkpoint")


@dataclass(frozen=True)
class InclusionProof:
    """Proof that one entry is leaf ``seq - 1`` of the tree a checkpoint signs."""

    seq: int
    entry_hash: str
    checkpoint: Checkpoint
    path: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "entry_hash": self.entry_hash,
            "checkpoint": self.checkpoint.to_dict(),
            "path": list(self.path),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InclusionProof:
        try:
            return cls(
                seq=int(data["seq"]),
                entry_hash=str(data["entry_hash"]),
                checkpoint=Checkpoint.from_dict(data["checkpoint"]),
                path=tuple(str(p) for p in data["path"]),
            )
        except (KeyError, TypeError, ValueError):
            raise VerificationError("malformed inclusion proof") from None


def verify_entry(row: dict[str, Any], public_key_b64: str) -> None:
    """Check one exported audit row: its hash over its fields and its signature."""
    if entry_hash(row) != row.get("entry_hash"):
        raise AuditVerificationError(f"audit entry {row.get('seq')}: hash mismatch", row.get("seq"))
    public = ed_public_from_b64(public_key_b64, "log public key")
    verify_signature(
        public, row["signature"], ENTRY_DOMAIN + bytes.fromhex(row["entry_hash"]), "audit entry"
    )


def verify_inclusion_proof(
    proof: InclusionProof, public_key_b64: str, row: dict[str, Any] | None = None
) -> None:
    """Verify a proof from public data: checkpoint signature, Merkle path, and the row if given."""
    proof.checkpoint.verify(public_key_b64)
    if row is not None:
        verify_entry(row, public_key_b64)
        if row["entry_hash"] != proof.entry_hash or int(row["seq"]) != proof.seq:
            raise VerificationError("inclusion proof is for another entry")
    try:
        path = [bytes.fromhex(p) for p in proof.path]
        data, root = bytes.fromhex(proof.entry_hash), bytes.fromhex(proof.checkpoint.root)
    except ValueError:
        raise VerificationError("malformed hex in inclusion proof") from None
    merkle.verify_inclusion(data, proof.seq - 1, proof.checkpoint.size, path, root)


def load_checkpoint_file(path: str | Path) -> Checkpoint:
    """A checkpoint kept outside the database: an anchor file, ``verify-log
    --checkpoint-out`` output (``{"checkpoint": …}``), or a bare checkpoint document."""
    try:
        doc = json.loads(Path(path).read_bytes())
    except OSError as error:
        raise InputError(f"cannot read checkpoint file {path}: {error.strerror}") from None
    except ValueError:
        raise VerificationError(f"checkpoint file {path} is not valid JSON") from None
    if isinstance(doc, dict) and isinstance(doc.get("checkpoint"), dict):
        doc = doc["checkpoint"]
    if not isinstance(doc, dict):
        raise VerificationError(f"checkpoint file {path} holds no checkpoint")
    return Checkpoint.from_dict(doc)


class Actor(Protocol):
    """Who a row is about: a logged-in :class:`~.users.UserSession` or a stored user."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


class AuditLog:
    """The workspace's audit log over a :class:`Store`, signing with the log key.

    ``anchor_path`` (a file beside the database) receives every new signed checkpoint once
    its transaction has committed, so it proves how long the log was at least, even if the
    database later loses rows (a deleted WAL, a cut tail, rows deleted with the triggers).
    """

    def __init__(
        self,
        store: Store,
        signing_key: Ed25519PrivateKey | None,
        public_key_b64: str,
        log_id: str,
        checkpoint_every: int = 1000,
        anchor_path: Path | None = None,
    ) -> None:
        self.store = store
        self._key = signing_key
        self.public_key_b64 = public_key_b64
        self.log_id = log_id
        self.key_id = key_id(ed_public_from_b64(public_key_b64).public_bytes_raw())
        self.checkpoint_every = checkpoint_every
        self.anchor_path = anchor_path

    # --- writing ---------------------------------------------------------------------------

    def append(
        self,
        actor: str,
        role: str,
        action: str,
        *,
        outcome: str = "success",
        case_id: str | None = None,
        object: str | None = None,  # the Art. 25 field name
        object_sha256: str | None = None,
        justification: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one signed row (joining the caller's transaction); returns the row.

        ``actor`` and ``role`` are plain names here, for the rows written before anyone is
        logged in (a failed login, the first admin); a session's action is :meth:`record`.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        if self._key is None:
            raise VerificationError("this workspace was opened without its log key (read-only)")
        with self.store.transaction():
            head = self.store.audit_head()
            seq = (head["seq"] + 1) if head else 1
            time, offset = now_times()
            row: dict[str, Any] = {
                "seq": seq,
                "time": time,
                "local_offset": offset,
                "actor": actor,
                "role": role,
                "action": action,
                "case_id": case_id,
                "object": object,
                "object_sha256": object_sha256,
                "justification": justification,
                "outcome": outcome,
                "details": canonical_json(details or {}).decode(),
                "prev_hash": head["entry_hash"] if head else GENESIS,
                "key_id": self.key_id,
            }
            row["entry_hash"] = entry_hash(row)
            row["signature"] = b64e(self._key.sign(ENTRY_DOMAIN + bytes.fromhex(row["entry_hash"])))
            self.store.insert_audit(row)
            if seq % self.checkpoint_every == 0 or action in CHECKPOINT_ACTIONS:
                self._write_checkpoint(seq)
        return row

    def record(
        self,
        by: Actor,
        action: str,
        *,
        outcome: str = "success",
        case_id: str | None = None,
        object: str | None = None,  # the Art. 25 field name
        object_sha256: str | None = None,
        justification: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one signed row for an action of ``by`` (a session): :meth:`append` with
        ``by.name`` and ``by.role`` as actor and role."""
        return self.append(
            by.name, by.role, action, outcome=outcome, case_id=case_id, object=object,
            object_sha256=object_sha256, justification=justification, details=details,
        )  # fmt: skip

    def record_refusal(
        self,
        by: Actor,
        action: str,
        reason: str,
        *,
        case_id: str | None = None,
        object: str | None = None,  # the Art. 25 field name
    ) -> dict[str, Any]:
        """Log a refused custody action: one ``outcome=denied`` row naming the reason."""
        return self.record(
            by, action, outcome=REFUSED, case_id=case_id, object=object,
            details={"reason": reason},
        )  # fmt: skip

    @contextmanager
    def refusals(
        self,
        by: Actor,
        action: str,
        *,
        case_id: str | None = None,
        object: str | None = None,  # the Art. 25 field name
        errors: tuple[type[ForensicsError], ...] = REFUSAL_ERRORS,
    ) -> Iterator[None]:
        """Run a custody action; if the rules refuse it, log the refusal and re-raise.

        Used *outside* the action's own transaction, so the refusal row is written after
        the action rolled back and cannot be rolled back with it. Each error is logged once
        however many of these blocks it passes through. If the row itself cannot be written
        (read-only store, missing log key) the original refusal is still raised: the action
        did not happen either way.
        """
        try:
            yield
        except errors as error:
            if not getattr(error, "refusal_logged", False):
                error.refusal_logged = True  # type: ignore[attr-defined]
                try:
                    self.record_refusal(by, action, str(error), case_id=case_id, object=object)
                except ForensicsError:
                    pass
            raise

    def checkpoint(self) -> Checkpoint:
        """Sign a checkpoint over the whole log now (or return the one at this size)."""
        with self.store.transaction():
            head = self.store.audit_head()
            size = head["seq"] if head else 0
            existing = self.store.get_checkpoint(size)
            if existing:
                return Checkpoint.from_dict(json.loads(existing["doc"]))
            return self._write_checkpoint(size)

    def _write_checkpoint(self, size: int) -> Checkpoint:
        assert self._key is not None
        frontier = merkle.Frontier()
        for h in self.store.audit_hashes(size):
            frontier.add(bytes.fromhex(h))
        time, _ = now_times()
        unsigned = Checkpoint(self.log_id, size, frontier.root().hex(), time, self.key_id, "")
        signature = b64e(self._key.sign(canonical_json(unsigned.body())))
        cp = Checkpoint(self.log_id, size, unsigned.root, time, self.key_id, signature)
        self.store.insert_checkpoint(
            {
                "size": size,
                "root": cp.root,
                "time": time,
                "key_id": cp.key_id,
                "signature": signature,
                "doc": canonical_json(cp.to_dict()).decode(),
            }
        )
        if self.anchor_path is not None:
            self.store.after_commit(lambda: self._write_anchor(cp))
        return cp

    def anchor(self) -> Checkpoint | None:
        """The checkpoint in the anchor file beside the database, or None if there is none."""
        if self.anchor_path is None or not self.anchor_path.exists():
            return None
        return load_checkpoint_file(self.anchor_path)

    def anchor_expected(self) -> bool:
        """True once this workspace has written an anchor (so a missing one is a loss)."""
        return self.store.get_meta("audit_anchor") is not None

    def _write_anchor(self, cp: Checkpoint) -> None:
        """Move the anchor up to ``cp`` (fsync'd, atomic); never down. Best effort: the
        action has committed already, and a lagging anchor still proves a lower bound."""
        assert self.anchor_path is not None
        try:
            current = self.anchor()
        except ForensicsError:
            current = None
        if current is not None and current.size >= cp.size and current.log_id == cp.log_id:
            return
        doc = {
            "type": ANCHOR_TYPE,
            "version": 1,
            "checkpoint": cp.to_dict(),
            "log_public_key": self.public_key_b64,
        }
        try:
            atomic_write_bytes(self.anchor_path, canonical_json(doc) + b"\n", PUBLIC)
        except OSError:
            return
        if not self.anchor_expected():
            with self.store.transaction():
                self.store.set_meta("audit_anchor", self.anchor_path.name)

    def verify_against(
        self, checkpoint: Checkpoint, source: str, public_key_b64: str | None = None
    ) -> None:
        """Check that this log still holds everything ``checkpoint`` (kept elsewhere) signs.

        A checkpoint larger than the log proves rows were lost; a smaller one must match the
        log's Merkle root at its size, or the log was rewritten. Raises
        :class:`AuditVerificationError`; ``source`` names the checkpoint in the message.
        """
        checkpoint.verify(public_key_b64 or self.public_key_b64)
        if checkpoint.log_id != self.log_id:
            raise AuditVerificationError(f"{source} is a checkpoint of another log")
        size = self.size()
        if checkpoint.size > size:
            raise AuditVerificationError(
                f"audit log has {size} entries but {source} proves it had at least "
                f"{checkpoint.size}: rows lost",
                size + 1,
            )
        frontier = merkle.Frontier()
        for h in self.store.audit_hashes(checkpoint.size):
            frontier.add(bytes.fromhex(h))
        if frontier.root().hex() != checkpoint.root:
            raise AuditVerificationError(
                f"audit log's first {checkpoint.size} entries differ from {source} (rewritten)"
            )

    # --- reading ---------------------------------------------------------------------------

    def entries(self, start: int = 1, stop: int | None = None) -> Iterator[dict[str, Any]]:
        """Rows from ``start`` to ``stop`` (inclusive) as stored."""
        return self.store.iter_audit(start, stop)

    def size(self) -> int:
        head = self.store.audit_head()
        return head["seq"] if head else 0

    def checkpoints(self) -> list[Checkpoint]:
        return [Checkpoint.from_dict(json.loads(r["doc"])) for r in self.store.list_checkpoints()]

    def latest_checkpoint(self) -> Checkpoint | None:
        cps = self.checkpoints()
        return cps[-1] if cps else None

    def inclusion_proof(self, seq: int, checkpoint: Checkpoint | None = None) -> InclusionProof:
        """Proof that entry ``seq`` is in ``checkpoint`` (default: a fresh one over the log)."""
        checkpoint = checkpoint or self.checkpoint()
        if not 1 <= seq <= checkpoint.size:
            raise VerificationError(f"entry {seq} is not covered by checkpoint {checkpoint.size}")
        hashes = [bytes.fromhex(h) for h in self.store.audit_hashes(checkpoint.size)]
        path = merkle.inclusion_path(seq - 1, hashes)
        return InclusionProof(seq, hashes[seq - 1].hex(), checkpoint, tuple(p.hex() for p in path))

    # --- verification ----------------------------------------------------------------------

    def verify(self, public_key_b64: str | None = None) -> dict[str, Any]:
        """Recompute the chain, every signature and every checkpoint root.

        Raises :class:`AuditVerificationError` naming the first bad entry; returns a summary.
        """
        pub_b64 = public_key_b64 or self.public_key_b64
        public: Ed25519PublicKey = ed_public_from_b64(pub_b64, "log public key")
        kid = key_id(public.public_bytes_raw())
        checkpoints = {cp["size"]: cp for cp in self.store.list_checkpoints()}
        frontier = merkle.Frontier()
        prev, expected = GENESIS, 1
        for row in self.store.iter_audit():
            seq = row["seq"]
            if seq != expected:
                raise AuditVerificationError(
                    f"audit entry {expected} is missing (the next stored entry is {seq})", expected
                )
            if entry_hash(row) != row["entry_hash"]:
                raise AuditVerificationError(
                    f"audit entry {seq}: contents do not match its hash (altered)", seq
                )
            if row["prev_hash"] != prev:
                raise AuditVerificationError(
                    f"audit entry {seq}: chain broken (prev_hash does not match entry {seq - 1})",
                    seq,
                )
            if row["key_id"] != kid:
                raise AuditVerificationError(f"audit entry {seq}: signed by unknown key", seq)
            try:
                public.verify(
                    b64d(row["signature"]), ENTRY_DOMAIN + bytes.fromhex(row["entry_hash"])
                )
            except Exception:
                raise AuditVerificationError(f"audit entry {seq}: bad signature", seq) from None
            frontier.add(bytes.fromhex(row["entry_hash"]))
            if seq in checkpoints:
                self._check_checkpoint(checkpoints.pop(seq), frontier.root().hex(), pub_b64)
            prev, expected = row["entry_hash"], seq + 1
        size = expected - 1
        if 0 in checkpoints:
            self._check_checkpoint(checkpoints.pop(0), merkle.EMPTY_ROOT.hex(), pub_b64)
        if checkpoints:
            first = min(checkpoints)
            raise AuditVerificationError(
                f"audit entry {size + 1} is missing: checkpoint {first} covers entries the log "
                f"no longer has (log ends at {size})",
                size + 1,
            )
        cps = self.store.list_checkpoints()
        return {
            "entries": size,
            "head": prev,
            "checkpoints": len(cps),
            "last_checkpoint": cps[-1]["size"] if cps else None,
            "root": frontier.root().hex(),
            "key_id": kid,
        }

    def _check_checkpoint(self, row: dict[str, Any], root: str, pub_b64: str) -> None:
        size = row["size"]
        try:
            cp = Checkpoint.from_dict(json.loads(row["doc"]))
        except (ValueError, VerificationError):
            raise AuditVerificationError(f"checkpoint {size}: malformed", None) from None
        if (cp.size, cp.root, cp.signature) != (size, row["root"], row["signature"]):
            raise AuditVerificationError(f"checkpoint {size}: columns disagree with its document")
        if cp.root != root:
            raise AuditVerificationError(
                f"checkpoint {size}: Merkle root differs from the entries 1..{size}",
                size,
            )
        try:
            cp.verify(pub_b64)
        except VerificationError as error:
            raise AuditVerificationError(f"checkpoint {size}: {error}") from None
