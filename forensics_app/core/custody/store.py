"""The workspace database: the only module of the custody core that speaks SQL.

One SQLite file per workspace (WAL journal, foreign keys on, ``busy_timeout`` for the GUI and
CLI running side by side), schema versioned in ``meta`` and migrated forward on open. The
rest of the custody core sees plain dicts, so a server database can replace this class.
The audit and checkpoint tables are append-only by trigger (an attacker with the file can
drop the triggers; the hash chain and signatures are what detect that).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from forensics_app.errors import StoreError

SCHEMA_VERSION = 2
#: SQLite result codes of a file that is not (or no longer) a sound database.
_DAMAGED_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB

AUDIT_COLUMNS = (
    "seq", "time", "local_offset", "actor", "role", "action", "case_id", "object", "object_sha256",
    "justification", "outcome", "details", "prev_hash", "entry_hash", "signature", "key_id",
)  # fmt: skip

_V1 = """
CREATE TABLE users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, created TEXT NOT NULL,
    ed25519_public TEXT NOT NULL, x25519_public TEXT NOT NULL, key_id TEXT NOT NULL,
    private_blob TEXT NOT NULL, created_by TEXT
);
CREATE TABLE cases (
    case_id TEXT PRIMARY KEY, title TEXT NOT NULL, created TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(name)
);
CREATE TABLE evidence (
    case_id TEXT NOT NULL REFERENCES cases(case_id), sha256 TEXT NOT NULL,
    path TEXT NOT NULL, size INTEGER NOT NULL, ingested TEXT NOT NULL,
    ingested_by TEXT NOT NULL REFERENCES users(name), details TEXT NOT NULL,
    PRIMARY KEY (case_id, sha256)
);
CREATE TABLE sealed_models (
    model_sha256 TEXT PRIMARY KEY, file_sha256 TEXT NOT NULL, path TEXT NOT NULL,
    header TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE requests (
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(case_id),
    evidence_sha256 TEXT NOT NULL, requester TEXT NOT NULL REFERENCES users(name),
    created TEXT NOT NULL, doc TEXT NOT NULL, status TEXT NOT NULL,
    decision_doc TEXT
);
CREATE TABLE grants (
    id TEXT PRIMARY KEY, request_id TEXT NOT NULL REFERENCES requests(id),
    case_id TEXT NOT NULL, approver TEXT NOT NULL, requester TEXT NOT NULL,
    expires TEXT NOT NULL, doc TEXT NOT NULL, revoked TEXT, revocation_doc TEXT
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY, time TEXT NOT NULL, local_offset TEXT NOT NULL,
    actor TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, case_id TEXT, object TEXT, object_sha256 TEXT,
    justification TEXT, outcome TEXT NOT NULL, details TEXT NOT NULL,
    prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL, signature TEXT NOT NULL,
    key_id TEXT NOT NULL
);
CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY, root TEXT NOT NULL, time TEXT NOT NULL, key_id TEXT NOT NULL,
    signature TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
"""

# v2: user names are case-insensitive identities ("Alice" and "alice" are one user); the
# index makes the database refuse a second spelling even if a caller skipped the check.
_V2 = """
CREATE UNIQUE INDEX users_name_nocase ON users(name COLLATE NOCASE);
"""

#: Forward migrations: MIGRATIONS[v] is the SQL script that brings version v to v + 1.
MIGRATIONS: dict[int, str] = {0: _V1, 1: _V2}


def is_damaged(error: sqlite3.Error) -> bool:
    """True when SQLite says the file is corrupt or not a database at all."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _DAMAGED_CODES
    text = str(error)
    return "malformed" in text or "not a database" in text


def damaged_error(path: Path) -> StoreError:
    """The one-line error for a database SQLite cannot read back."""
    return StoreError(f"{path}: database is damaged; restore from backup")


class Store:
    """A workspace database; use :meth:`transaction` around every change."""

    def __init__(self, path: Path, create: bool = False) -> None:
        """Open the database at ``path``; only ``create`` may write a schema into it.

        A file that holds no workspace schema (empty, or another program's database) is
        refused unless ``create``, so a reading or verifying command never turns a truncated
        or foreign file into a fresh, empty workspace. A corrupt file is one line:
        "database is damaged; restore from backup".
        """
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        try:
            # one connection may serve the GUI's worker threads: transactions are serialised
            # by self._lock, and SQLite itself runs in serialised threading mode
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=10.0, check_same_thread=False
            )
            self._conn.row_factory = sqlite3.Row
            if not create and not self._has_schema():
                raise StoreError(
                    f"{self.path} is not a workspace database (empty or foreign); "
                    "restore from backup"
                )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as error:
            if self._conn is not None:
                self._conn.close()
            if is_damaged(error):
                raise damaged_error(self.path) from None
            raise StoreError(f"cannot open workspace database {self.path}: {error}") from None
        except StoreError:
            self._conn.close()
            raise
        self._depth = 0
        self._lock = threading.RLock()
        self._after_commit: list[Callable[[], None]] = []

    # --- plumbing ------------------------------------------------------------------------

    def _has_schema(self) -> bool:
        found = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if found is None:
            return False
        version = "SELECT 1 FROM meta WHERE key='schema_version'"
        return self._conn.execute(version).fetchone() is not None

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"workspace schema v{version} is newer than this program (v{SCHEMA_VERSION})"
            )
        while version < SCHEMA_VERSION:
            # executescript commits implicitly, so the script carries its own transaction
            script = MIGRATIONS[version]
            version += 1
            try:
                conn.executescript(
                    "BEGIN IMMEDIATE;\n" + script + "\nINSERT OR REPLACE INTO meta VALUES "
                    f"('schema_version', '{version}');\nCOMMIT;"
                )
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        return int(self.get_meta("schema_version") or 0)

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[None]:
        """One atomic unit: everything inside commits together or not at all.

        ``durable`` (the default) fsyncs the commit (``synchronous=FULL``), so a committed
        row survives a power cut; ``durable=False`` keeps WAL's ``NORMAL`` level, which
        survives a crashed or killed process but may lose the last commits on power loss.
        Nested calls join the outermost transaction (and its durability). Thread-safe: a
        transaction holds the store's lock until it ends.
        """
        with self._lock:
            with self._transaction(durable):
                yield

    @contextmanager
    def _transaction(self, durable: bool) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            if is_damaged(error):
                raise damaged_error(self.path) from None
            raise StoreError(f"workspace database is not writable: {error}") from None
        self._depth = 1
        self._after_commit = []
        try:
            yield
        except BaseException:
            self._depth = 0
            self._after_commit = []
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as error:
            self._after_commit = []
            self._conn.execute("ROLLBACK")
            if is_damaged(error):
                raise damaged_error(self.path) from None
            raise StoreError(f"cannot commit to the workspace database: {error}") from None
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the current outermost transaction has committed (never on
        rollback). For effects outside the database that must not claim uncommitted rows."""
        if not self._depth:
            raise StoreError("after_commit needs an open transaction")
        self._after_commit.append(hook)

    def _error(self, error: sqlite3.Error) -> StoreError:
        if is_damaged(error):
            return damaged_error(self.path)
        if isinstance(error, sqlite3.IntegrityError):
            return StoreError(f"workspace database refused the change: {error}")
        return StoreError(f"workspace database error: {error}")

    def _exec(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as error:
            raise self._error(error) from None

    def _one(self, sql: str, params: tuple = ()) -> dict[str, Any] | None:
        cur = self._exec(sql, params)
        try:
            row = cur.fetchone()
        except sqlite3.Error as error:
            raise self._error(error) from None
        return dict(row) if row is not None else None

    def _all(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        return list(self._iter(sql, params))

    def _iter(self, sql: str, params: tuple = ()) -> Iterator[dict[str, Any]]:
        """Rows one by one; a page that fails to read mid-way is a StoreError, not a crash."""
        cur = self._exec(sql, params)
        while True:
            try:
                batch = cur.fetchmany(256)
            except sqlite3.Error as error:
                raise self._error(error) from None
            if not batch:
                return
            for row in batch:
                yield dict(row)

    def close(self) -> None:
        self._conn.close()

    # --- meta ----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # --- users ---------------------------------------------------------------------------

    def insert_user(self, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self._exec(f"INSERT INTO users ({cols}) VALUES ({marks})", tuple(row.values()))

    def get_user(self, name: str) -> dict[str, Any] | None:
        """The user whose name equals ``name`` ignoring case (names are case-insensitive)."""
        return self._one("SELECT * FROM users WHERE name=? COLLATE NOCASE", (name,))

    def list_users(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM users ORDER BY name")

    def count_role(self, role: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM users WHERE role=?", (role,))
        return int(row["n"]) if row else 0

    # --- cases and evidence --------------------------------------------------------------

    def insert_case(self, case_id: str, title: str, created: str, created_by: str) -> None:
        self._exec("INSERT INTO cases VALUES (?, ?, ?, ?)", (case_id, title, created, created_by))

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM cases WHERE case_id=?", (case_id,))

    def list_cases(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM cases ORDER BY created, case_id")

    def insert_evidence(self, row: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO evidence VALUES (:case_id, :sha256, :path, :size, :ingested,"
            " :ingested_by, :details)",
            row,
        )

    def get_evidence(self, case_id: str, sha256: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM evidence WHERE case_id=? AND sha256=?", (case_id, sha256))

    def list_evidence(self, case_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM evidence WHERE case_id=? ORDER BY ingested", (case_id,))

    # --- sealed models -------------------------------------------------------------------

    def insert_sealed(self, row: dict[str, Any]) -> None:
        self._exec(
            "INSERT OR REPLACE INTO sealed_models VALUES (:model_sha256, :file_sha256, :path,"
            " :header, :created)",
            row,
        )

    def get_sealed(self, model_sha256: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM sealed_models WHERE model_sha256=?", (model_sha256,))

    def list_sealed(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM sealed_models ORDER BY created DESC")

    # --- requests and grants -------------------------------------------------------------

    def insert_request(self, row: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO requests VALUES (:id, :case_id, :evidence_sha256, :requester,"
            " :created, :doc, :status, NULL)",
            row,
        )

    def get_request(self, request_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM requests WHERE id=?", (request_id,))

    def list_requests(self, case_id: str | None = None) -> list[dict[str, Any]]:
        if case_id is None:
            return self._all("SELECT * FROM requests ORDER BY created")
        return self._all("SELECT * FROM requests WHERE case_id=? ORDER BY created", (case_id,))

    def decide_request(self, request_id: str, status: str, decision_doc: str) -> bool:
        """Record the decision on a *pending* request; False if it was already decided.

        The status test is part of the UPDATE, so inside a ``BEGIN IMMEDIATE`` transaction
        two deciders (threads or processes) cannot both win.
        """
        cur = self._exec(
            "UPDATE requests SET status=?, decision_doc=? WHERE id=? AND status='pending'",
            (status, decision_doc, request_id),
        )
        return cur.rowcount == 1

    def insert_grant(self, row: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO grants VALUES (:id, :request_id, :case_id, :approver, :requester,"
            " :expires, :doc, NULL, NULL)",
            row,
        )

    def get_grant(self, grant_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM grants WHERE id=?", (grant_id,))

    def list_grants(self, case_id: str | None = None) -> list[dict[str, Any]]:
        if case_id is None:
            return self._all("SELECT * FROM grants ORDER BY expires")
        return self._all("SELECT * FROM grants WHERE case_id=? ORDER BY expires", (case_id,))

    def revoke_grant(self, grant_id: str, when: str, revocation_doc: str) -> bool:
        """Revoke a standing grant; False if it was already revoked (same race rule)."""
        cur = self._exec(
            "UPDATE grants SET revoked=?, revocation_doc=? WHERE id=? AND revoked IS NULL",
            (when, revocation_doc, grant_id),
        )
        return cur.rowcount == 1

    # --- audit log and checkpoints -------------------------------------------------------

    def audit_head(self) -> dict[str, Any] | None:
        return self._one("SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1")

    def insert_audit(self, row: dict[str, Any]) -> None:
        marks = ", ".join(f":{c}" for c in AUDIT_COLUMNS)
        self._exec(f"INSERT INTO audit ({', '.join(AUDIT_COLUMNS)}) VALUES ({marks})", row)

    def iter_audit(self, start: int = 1, stop: int | None = None) -> Iterator[dict[str, Any]]:
        """Audit rows in storage order of seq, from ``start`` to ``stop`` inclusive."""
        stop = stop if stop is not None else 2**62
        yield from self._iter(
            "SELECT * FROM audit WHERE seq BETWEEN ? AND ? ORDER BY seq", (start, stop)
        )

    def get_audit(self, seq: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM audit WHERE seq=?", (seq,))

    def audit_rows(self, action: str, case_id: str) -> list[dict[str, Any]]:
        """Successful audit rows of one ``action`` in one case, in seq order."""
        return self._all(
            "SELECT * FROM audit WHERE action=? AND case_id=? AND outcome='success' ORDER BY seq",
            (action, case_id),
        )

    def audit_hashes(self, stop: int) -> list[str]:
        """entry_hash of rows 1..stop in seq order."""
        rows = self._iter("SELECT entry_hash FROM audit WHERE seq<=? ORDER BY seq", (stop,))
        return [r["entry_hash"] for r in rows]

    def count_audit(self, action: str | None = None, actor: str | None = None) -> int:
        sql, params = "SELECT COUNT(*) AS n FROM audit WHERE 1=1", []
        if action is not None:
            sql, params = sql + " AND action=?", [*params, action]
        if actor is not None:
            sql, params = sql + " AND actor=?", [*params, actor]
        row = self._one(sql, tuple(params))
        return int(row["n"]) if row else 0

    def find_audit(self, action: str, case_id: str, object_sha256: str) -> list[dict[str, Any]]:
        """Successful rows of ``action`` about ``object_sha256`` in ``case_id``, oldest first."""
        return self._all(
            "SELECT * FROM audit WHERE action=? AND case_id=? AND object_sha256=?"
            " AND outcome='success' ORDER BY seq",
            (action, case_id, object_sha256),
        )

    def failed_logins(self, name: str) -> tuple[int, str | None]:
        """Failed logins of user ``name`` since their last successful login or unlock.

        Returns (count, time of the last one). The audit log is the only record of them,
        so the count cannot be reset without breaking the log's chain.
        """
        row = self._one(
            "SELECT COUNT(*) AS n, MAX(time) AS last FROM audit WHERE object=?"
            " AND action='login_failed' AND outcome='failure' AND seq > COALESCE(("
            "SELECT MAX(seq) FROM audit WHERE object=? AND outcome='success'"
            " AND action IN ('login', 'user_unlocked')), 0)",
            (f"user:{name}", f"user:{name}"),
        )
        return (int(row["n"]), row["last"]) if row else (0, None)

    def insert_checkpoint(self, row: dict[str, Any]) -> None:
        self._exec(
            "INSERT OR IGNORE INTO checkpoints VALUES (:size, :root, :time, :key_id,"
            " :signature, :doc)",
            row,
        )

    def list_checkpoints(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM checkpoints ORDER BY size")

    def get_checkpoint(self, size: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM checkpoints WHERE size=?", (size,))
