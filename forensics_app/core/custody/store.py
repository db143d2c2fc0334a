"""The workspace database interface: the custody core's only way to rows.

:class:`Store` holds every query the custody core needs, written once in the SQL that both
backends speak (``?`` and ``:name`` placeholders, ``ON CONFLICT``); a backend supplies the
connection, the schema and its migrations, transactions and the translation of its driver's
errors into one-line :class:`StoreError`. Two backends exist:

- :class:`~forensics_app.core.custody.store_sqlite.SQLiteStore`: one file per workspace
  (the default, embedded);
- :class:`~forensics_app.core.custody.store_postgres.PostgresStore`: a PostgreSQL database
  shared by a lab's workstations.

Both serialise write transactions (SQLite's ``BEGIN IMMEDIATE``; a transaction-scoped
advisory lock on PostgreSQL), so a read of the audit head or of a request's status inside a
transaction stays true until it commits. The rest of the custody core sees plain dicts.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from forensics_app.errors import StoreError

SCHEMA_VERSION = 2

AUDIT_COLUMNS = (
    "seq", "time", "local_offset", "actor", "role", "action", "case_id", "object", "object_sha256",
    "justification", "outcome", "details", "prev_hash", "entry_hash", "signature", "key_id",
)  # fmt: skip

#: Every table of the schema, in an order that satisfies the foreign keys (for copies).
TABLES = (
    "meta", "users", "cases", "evidence", "sealed_models", "requests", "grants", "audit",
    "checkpoints",
)  # fmt: skip
#: The version-1 tables, the same in both stores; ``{int}`` is the 64-bit integer type
#: (SQLite INTEGER, PostgreSQL BIGINT). Each store adds its own append-only guard.
TABLES_V1 = """
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
    path TEXT NOT NULL, size {int} NOT NULL, ingested TEXT NOT NULL,
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
    seq {int} PRIMARY KEY, time TEXT NOT NULL, local_offset TEXT NOT NULL,
    actor TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, case_id TEXT, object TEXT, object_sha256 TEXT,
    justification TEXT, outcome TEXT NOT NULL, details TEXT NOT NULL,
    prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL, signature TEXT NOT NULL,
    key_id TEXT NOT NULL
);
CREATE TABLE checkpoints (
    size {int} PRIMARY KEY, root TEXT NOT NULL, time TEXT NOT NULL, key_id TEXT NOT NULL,
    signature TEXT NOT NULL, doc TEXT NOT NULL
);"""
#: Tables that only ever grow: no UPDATE or DELETE, by trigger and (PostgreSQL) by grants.
APPEND_ONLY = ("audit", "checkpoints")


class Store(ABC):
    """A workspace database; use :meth:`transaction` around every change.

    Subclasses implement the plumbing (``_exec``, ``_one``, ``_iter``, transactions); the
    queries below are shared, so the two backends cannot drift apart in what they mean.
    """

    #: "sqlite" or "postgresql".
    backend: str = ""

    # --- plumbing (the backend's part) --------------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the database is, for messages: a path, or a URL without its password."""

    def __init__(self) -> None:
        self._depth = 0
        self._lock = threading.RLock()
        self._after_commit: list[Callable[[], None]] = []

    @abstractmethod
    def _begin(self, durable: bool) -> None:
        """Open a serialised write transaction (a one-line StoreError if it cannot)."""

    @abstractmethod
    def _commit(self) -> None:
        """Commit it; on failure roll back and raise a one-line StoreError."""

    @abstractmethod
    def _rollback(self) -> None:
        """Roll it back; never raises (the connection may be gone already)."""

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[None]:
        """One atomic, serialised unit: everything inside commits together or not at all.

        ``durable`` (the default) waits for the commit to reach stable storage;
        ``durable=False`` survives a crashed or killed process but may lose the last
        commits on power loss (or a server crash), never half of one. Nested calls join
        the outermost transaction (and its durability). Thread-safe: a transaction holds
        the store's lock until it ends.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin(durable)
            self._depth = 1
            self._after_commit = []
            try:
                yield
            except BaseException:
                self._depth = 0
                self._after_commit = []
                self._rollback()
                raise
            self._depth = 0
            try:
                self._commit()
            except BaseException:
                self._after_commit = []
                raise
            hooks, self._after_commit = self._after_commit, []
            for hook in hooks:
                hook()

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the current outermost transaction has committed (never on
        rollback). For effects outside the database that must not claim uncommitted rows."""
        if not self._depth:
            raise StoreError("after_commit needs an open transaction")
        self._after_commit.append(hook)

    @abstractmethod
    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""

    @abstractmethod
    def _exec(self, sql: str, params: tuple | dict = ()) -> Any:
        """Run one statement (portable placeholders); returns a cursor with ``rowcount``."""

    @abstractmethod
    def _one(self, sql: str, params: tuple | dict = ()) -> dict[str, Any] | None:
        """The first row of a query, or None."""

    @abstractmethod
    def _iter(self, sql: str, params: tuple | dict = ()) -> Iterator[dict[str, Any]]:
        """Rows one by one; a read that fails mid-way is a StoreError, not a crash."""

    def _all(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        return list(self._iter(sql, params))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.get_meta("schema_version") or 0)

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"workspace schema v{version} is newer than this program (v{SCHEMA_VERSION})"
            )

    # --- meta ----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    # --- users ---------------------------------------------------------------------------

    def insert_user(self, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self._exec(f"INSERT INTO users ({cols}) VALUES ({marks})", tuple(row.values()))

    def get_user(self, name: str) -> dict[str, Any] | None:
        """The user whose name equals ``name`` ignoring case (names are case-insensitive)."""
        return self._one("SELECT * FROM users WHERE lower(name)=lower(?)", (name,))

    def list_users(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM users ORDER BY name")

    def count_role(self, role: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM users WHERE role=?", (role,))
        return int(row["n"]) if row else 0

    # --- cases and evidence --------------------------------------------------------------

    def insert_case(self, case_id: str, title: str, created: str, created_by: str) -> None:
        self._exec(
            "INSERT INTO cases (case_id, title, created, created_by) VALUES (?, ?, ?, ?)",
            (case_id, title, created, created_by),
        )

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM cases WHERE case_id=?", (case_id,))

    def list_cases(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM cases ORDER BY created, case_id")

    def insert_evidence(self, row: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO evidence (case_id, sha256, path, size, ingested, ingested_by, details)"
            " VALUES (:case_id, :sha256, :path, :size, :ingested, :ingested_by, :details)",
            row,
        )

    def get_evidence(self, case_id: str, sha256: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM evidence WHERE case_id=? AND sha256=?", (case_id, sha256))

    def list_evidence(self, case_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM evidence WHERE case_id=? ORDER BY ingested", (case_id,))

    # --- sealed models -------------------------------------------------------------------

    def insert_sealed(self, row: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO sealed_models (model_sha256, file_sha256, path, header, created)"
            " VALUES (:model_sha256, :file_sha256, :path, :header, :created)"
            " ON CONFLICT (model_sha256) DO UPDATE SET file_sha256=excluded.file_sha256,"
            " path=excluded.path, header=excluded.header, created=excluded.created",
            row,
        )

    def get_sealed(self, model_sha256: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM sealed_models WHERE model_sha256=?", (model_sha256,))

    def list_sealed(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM sealed_models ORDER BY created DESC")

    # --- requests and grants -------------------------------------------------------------

    def insert_request(self, row: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO requests (id, case_id, evidence_sha256, requester, created, doc,"
            " status, decision_doc) VALUES (:id, :case_id, :evidence_sha256, :requester,"
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

        The status test is part of the UPDATE, and write transactions are serialised, so
        two deciders (threads, processes or workstations) cannot both win.
        """
        cur = self._exec(
            "UPDATE requests SET status=?, decision_doc=? WHERE id=? AND status='pending'",
            (status, decision_doc, request_id),
        )
        return cur.rowcount == 1

    def insert_grant(self, row: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO grants (id, request_id, case_id, approver, requester, expires, doc,"
            " revoked, revocation_doc) VALUES (:id, :request_id, :case_id, :approver,"
            " :requester, :expires, :doc, NULL, NULL)",
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
        sql, params = "SELECT COUNT(*) AS n FROM audit WHERE 1=1", list[str]()
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
            "INSERT INTO checkpoints (size, root, time, key_id, signature, doc) VALUES (:size,"
            " :root, :time, :key_id, :signature, :doc) ON CONFLICT (size) DO NOTHING",
            row,
        )

    def list_checkpoints(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM checkpoints ORDER BY size")

    def get_checkpoint(self, size: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM checkpoints WHERE size=?", (size,))

    # --- copies (workspace migrate) ------------------------------------------------------

    def table_rows(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row of one schema table, in a stable order (for a copy to another store)."""
        if table not in TABLES:
            raise StoreError(f"no table {table!r} in a workspace")
        order = {"audit": "seq", "checkpoints": "size"}.get(table, "1")
        yield from self._iter(f"SELECT * FROM {table} ORDER BY {order}")

    def copy_rows(self, table: str, rows: Iterable[dict[str, Any]], batch: int = 2000) -> int:
        """Insert rows copied from another store, column for column, ``batch`` per round
        trip (call inside a transaction); returns how many."""
        if table not in TABLES:
            raise StoreError(f"no table {table!r} in a workspace")
        done, pending = 0, []
        for row in rows:
            pending.append(row)
            if len(pending) == batch:
                done += self._insert_many(table, pending)
                pending = []
        if pending:
            done += self._insert_many(table, pending)
        return done

    def _insert_many(self, table: str, rows: list[dict[str, Any]]) -> int:
        cols = list(rows[0])
        marks = ", ".join(f":{c}" for c in cols)
        self._many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
        return len(rows)

    @abstractmethod
    def _many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        """Run one statement for each of ``rows`` (named placeholders), in as few round
        trips as the driver allows."""
