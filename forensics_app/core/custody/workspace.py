"""A custody workspace: a folder holding the SQLite store, the log key and sealed models.

``Workspace.open(path, create=True)`` makes a new one (schema, log identity, log key);
everything else in the custody core takes a :class:`Workspace`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from forensics_app.core.custody.audit import AuditLog
from forensics_app.core.custody.crypto import b64d, b64e, ed_private_raw, ed_public_raw
from forensics_app.core.custody.store import Store
from forensics_app.core.outputs import PRIVATE_DIR, PRIVATE_FILE, tighten
from forensics_app.errors import StoreError

DB_NAME = "workspace.sqlite"
#: The latest signed checkpoint, kept beside the database (see AuditLog.anchor_path).
ANCHOR_NAME = "audit-anchor.json"
LOG_KEY_NAME = "keys/audit-log.ed25519"
#: Rows between automatic signed checkpoints.
CHECKPOINT_EVERY = 1000


class Workspace:
    """An open workspace; use as a context manager or call :meth:`close`."""

    def __init__(self, root: Path, store: Store, audit: AuditLog) -> None:
        self.root = root
        self.store = store
        self.audit = audit

    @classmethod
    def open(
        cls, root: str | Path, create: bool = False, checkpoint_every: int = CHECKPOINT_EVERY
    ) -> Workspace:
        """Open the workspace at ``root``; ``create`` makes it if it does not exist.

        Without ``create`` nothing is ever written on open: a missing, empty or foreign
        database is a one-line StoreError (verifying and reading commands use this).
        """
        root = Path(root)
        db = root / DB_NAME
        if not db.is_file():
            if not create:
                raise StoreError(f"no workspace at {root} (add its first admin with 'user add')")
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create workspace {root}: {error.strerror}") from None
        store = Store(db, create=create)
        # the database holds wrapped private keys and the log: owner-only, like the log key
        tighten(root, PRIVATE_DIR)
        for path in (db, db.with_name(DB_NAME + "-wal"), db.with_name(DB_NAME + "-shm")):
            tighten(path, PRIVATE_FILE)
        if store.get_meta("log_id") is None:
            if not create:  # a schema without a log identity: never invent one on a read
                store.close()
                raise StoreError(f"{db} holds no workspace log; restore from backup")
            cls._initialise(root, store)
        key = cls._load_log_key(root)
        audit = AuditLog(
            store,
            key,
            store.get_meta("log_public_key") or "",
            store.get_meta("log_id") or "",
            checkpoint_every=checkpoint_every,
            anchor_path=root / ANCHOR_NAME,
        )
        if key is not None and b64e(ed_public_raw(key)) != audit.public_key_b64:
            raise StoreError("the workspace log key does not match the key its log records")
        return cls(root, store, audit)

    @staticmethod
    def _initialise(root: Path, store: Store) -> None:
        key = Ed25519PrivateKey.generate()
        path = root / LOG_KEY_NAME
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        tighten(path.parent, PRIVATE_DIR)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            store.close()
            raise StoreError(
                f"{root} has a log key but its database holds no log; restore from backup"
            ) from None
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(b64e(ed_private_raw(key)) + "\n")
        with store.transaction():
            store.set_meta("log_id", uuid.uuid4().hex)
            store.set_meta("log_public_key", b64e(ed_public_raw(key)))

    @staticmethod
    def _load_log_key(root: Path) -> Ed25519PrivateKey | None:
        path = root / LOG_KEY_NAME
        if not path.is_file():
            return None
        raw = b64d(path.read_text(encoding="ascii").strip(), "log key")
        return Ed25519PrivateKey.from_private_bytes(raw)

    @property
    def sealed_dir(self) -> Path:
        return self.root / "sealed"

    @property
    def log_public_key(self) -> str:
        """Base64 Ed25519 public key that signs this workspace's log and checkpoints."""
        return self.audit.public_key_b64

    def info(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "schema_version": self.store.schema_version,
            "log_id": self.audit.log_id,
            "log_key_id": self.audit.key_id,
        }

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
