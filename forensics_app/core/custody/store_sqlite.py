"""The SQLite workspace store: one file per workspace, the default, embedded backend.

WAL journal, foreign keys on, ``busy_timeout`` for the GUI and CLI running side by side,
schema versioned in ``meta`` and migrated forward on open. Write transactions are
``BEGIN IMMEDIATE``, so they are serialised across threads and processes. The audit and
checkpoint tables are append-only by trigger (an attacker with the file can drop the
triggers; the hash chain and signatures are what detect that).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from forensics_app.core.custody.store import SCHEMA_VERSION, TABLES_V1, Store
from forensics_app.errors import StoreError

#: SQLite result codes of a file that is not (or no longer) a sound database.
_DAMAGED_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB

_V1 = (
    TABLES_V1.format(int="INTEGER")
    + """
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
"""
)

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


class SQLiteStore(Store):
    """A workspace database in one SQLite file; use :meth:`transaction` around every change."""

    backend = "sqlite"

    def __init__(self, path: Path, create: bool = False) -> None:
        """Open the database at ``path``; only ``create`` may write a schema into it.

        A file that holds no workspace schema (empty, or another program's database) is
        refused unless ``create``, so a reading or verifying command never turns a truncated
        or foreign file into a fresh, empty workspace. A corrupt file is one line:
        "database is damaged; restore from backup".
        """
        super().__init__()
        self.path = Path(path)
        conn: sqlite3.Connection | None = None
        try:
            # one connection may serve the GUI's worker threads: transactions are serialised
            # by self._lock, and SQLite itself runs in serialised threading mode
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=10.0, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            self._conn: sqlite3.Connection = conn
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
            if conn is not None:
                conn.close()
            if is_damaged(error):
                raise damaged_error(self.path) from None
            raise StoreError(f"cannot open workspace database {self.path}: {error}") from None
        except StoreError:
            if conn is not None:
                conn.close()
            raise

    @property
    def location(self) -> str:
        return str(self.path)

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
        self._check_version(version)
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

    def _begin(self, durable: bool) -> None:
        try:
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            if is_damaged(error):
                raise damaged_error(self.path) from None
            raise StoreError(f"workspace database is not writable: {error}") from None

    def _commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as error:
            self._rollback()
            if is_damaged(error):
                raise damaged_error(self.path) from None
            raise StoreError(f"cannot commit to the workspace database: {error}") from None

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _error(self, error: sqlite3.Error) -> StoreError:
        if is_damaged(error):
            return damaged_error(self.path)
        if isinstance(error, sqlite3.IntegrityError):
            return StoreError(f"workspace database refused the change: {error}")
        return StoreError(f"workspace database error: {error}")

    def _exec(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as error:
            raise self._error(error) from None

    def _many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as error:
            raise self._error(error) from None

    def _one(self, sql: str, params: tuple | dict = ()) -> dict[str, Any] | None:
        cur = self._exec(sql, params)
        try:
            row = cur.fetchone()
        except sqlite3.Error as error:
            raise self._error(error) from None
        return dict(row) if row is not None else None

    def _iter(self, sql: str, params: tuple | dict = ()) -> Iterator[dict[str, Any]]:
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
