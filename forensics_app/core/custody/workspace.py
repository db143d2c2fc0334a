"""A custody workspace: a folder holding the store (or a pointer to it), the log key and
sealed models.

The store is either ``workspace.sqlite`` in the folder (the default) or a PostgreSQL database
that the folder's ``workspace-db.json`` names by URL (never with a password), so several
workstations can open the same folder on a lab share and one case store.
``Workspace.open(path, create=True[, db=URL])`` makes a new one (schema, log identity, log
key); everything else in the custody core takes a :class:`Workspace`.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from forensics_app.core.atomic import atomic_write_bytes
from forensics_app.core.custody.audit import AuditLog
from forensics_app.core.custody.crypto import b64d, b64e, ed_private_raw, ed_public_raw
from forensics_app.core.custody.store import Store
from forensics_app.core.custody.store_sqlite import SQLiteStore
from forensics_app.core.outputs import PRIVATE_DIR, PRIVATE_FILE, tighten
from forensics_app.errors import StoreError

DB_NAME = "workspace.sqlite"
#: The pointer to a server database (docs/FORMATS.md): backend and URL, never a password.
DB_POINTER = "workspace-db.json"
DB_POINTER_TYPE = "uunet-workspace-database"
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
        cls,
        root: str | Path,
        create: bool = False,
        checkpoint_every: int = CHECKPOINT_EVERY,
        *,
        db: str | None = None,
        password: str | None = None,
        app_role: str | None = None,
    ) -> Workspace:
        """Open the workspace at ``root``; ``create`` makes it if it does not exist.

        Without ``create`` nothing is ever written on open: a missing, empty or foreign
        database is a one-line StoreError (verifying and reading commands use this).
        ``db`` (with ``create``) is a ``postgresql://`` URL: the folder then records it in
        ``workspace-db.json`` and the store lives on that server; ``app_role`` names the
        database role the recorded URL will use (granted INSERT/SELECT only on the log),
        the URL's own user being the schema's owner. ``password`` is for this connection
        only, never stored.
        """
        root = Path(root)
        new_pointer = db is not None and not (root / DB_POINTER).is_file()
        store = open_store(root, create, db=db, password=password, app_role=app_role)
        if new_pointer and store.get_meta("log_id") is not None:
            store.close()  # another folder's log: never a second folder with no key for it
            raise StoreError(
                f"{store.location} already holds a workspace; open the folder that points at it"
            )
        # the database holds wrapped private keys and the log: owner-only, like the log key
        tighten(root, PRIVATE_DIR)
        if isinstance(store, SQLiteStore):
            db_path = store.path
            for path in (db_path, db_path.with_name(DB_NAME + "-wal"),
                         db_path.with_name(DB_NAME + "-shm")):  # fmt: skip
                tighten(path, PRIVATE_FILE)
        if store.get_meta("log_id") is None:
            if not create:  # a schema without a log identity: never invent one on a read
                store.close()
                raise StoreError(f"{store.location} holds no workspace log; restore from backup")
            cls._initialise(root, store)
        if new_pointer and db is not None:  # new_pointer implies db; said again for the checker
            write_db_pointer(root, app_url(db, app_role))
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
            store.close()
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
            "backend": self.store.backend,
            "database": self.store.location,
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


def open_store(
    root: Path,
    create: bool,
    *,
    db: str | None = None,
    password: str | None = None,
    app_role: str | None = None,
) -> Store:
    """The store of the workspace folder ``root``: its pointer's server, or its SQLite file."""
    pointer = root / DB_POINTER
    sqlite_db = root / DB_NAME
    if pointer.is_file():
        url = read_db_pointer(root)
        if db is not None and _without_user(db) != _without_user(url):
            raise StoreError(f"{root} already holds a workspace on {url}")
        return _postgres(db if db is not None else url, create, password, app_role)
    if db is not None:
        if not create:
            raise StoreError("a database URL is only given when creating a workspace")
        if sqlite_db.exists():
            raise StoreError(
                f"{root} holds a SQLite workspace; copy it with 'forensics workspace migrate'"
            )
        _make_root(root)
        return _postgres(db, True, password, app_role)
    if not sqlite_db.is_file():
        if not create:
            raise StoreError(f"no workspace at {root} (add its first admin with 'user add')")
        _make_root(root)
    return SQLiteStore(sqlite_db, create=create)


def _postgres(url: str, create: bool, password: str | None, app_role: str | None) -> Store:
    from forensics_app.core.custody.store_postgres import PostgresStore

    return PostgresStore(url, create=create, password=password, app_role=app_role)


def _make_root(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create workspace {root}: {error.strerror}") from None


def app_url(url: str, app_role: str | None) -> str:
    """``url`` with its user replaced by ``app_role`` (the role daily work connects as)."""
    if not app_role:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{app_role}@{host}"))


def _without_user(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def write_db_pointer(root: Path, url: str) -> None:
    """Record in ``root`` that its store is the PostgreSQL database at ``url`` (no password)."""
    from forensics_app.core.custody.store_postgres import check_url

    doc = {"type": DB_POINTER_TYPE, "version": 1, "backend": "postgresql", "url": check_url(url)}
    atomic_write_bytes(root / DB_POINTER, (json.dumps(doc, indent=2) + "\n").encode())


def read_db_pointer(root: Path) -> str:
    """The database URL that the folder ``root`` records, or a one-line StoreError."""
    from forensics_app.core.custody.store_postgres import check_url

    path = root / DB_POINTER
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StoreError(f"{path} is not a readable database pointer: {error}") from None
    if not isinstance(doc, dict) or doc.get("type") != DB_POINTER_TYPE:
        raise StoreError(f"{path} is not a workspace database pointer")
    if doc.get("version") != 1 or doc.get("backend") != "postgresql":
        raise StoreError(f"{path}: unsupported pointer version or backend")
    return check_url(str(doc.get("url", "")))
