"""The PostgreSQL workspace store: one case store shared by a lab's workstations.

Same schema and queries as the SQLite store (:mod:`.store`), through ``psycopg`` 3:

- **Serialised writes.** Every write transaction starts by taking one transaction-scoped
  advisory lock, so write transactions run one at a time across every workstation, as
  SQLite's ``BEGIN IMMEDIATE`` does across processes. The audit head read inside an append
  and the ``pending`` test of a decision (``SELECT … FOR UPDATE`` as well) therefore stay
  true until the commit: audit appends are strictly sequential and a request is decided once.
- **Append-only by grants.** The role that creates the schema owns it (migrations); the
  application role named at creation gets INSERT/SELECT only on ``audit`` and
  ``checkpoints`` (UPDATE, DELETE and TRUNCATE revoked), besides the triggers both backends
  have. The hash chain and signatures still detect an owner who edits rows anyway.
- **No stored passwords.** URLs with a password are refused; libpq finds it in its
  password or service file, or the caller passes one it prompted for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from forensics_app.core.custody.store import APPEND_ONLY, SCHEMA_VERSION, TABLES, TABLES_V1, Store
from forensics_app.errors import StoreError

if TYPE_CHECKING:  # optional at run time (the postgresql extra): imported by _psycopg()
    import psycopg

#: Key of the advisory lock every write transaction holds (per database).
WRITE_LOCK = 0x5555_4E45_5446_4F52  # "UUNETFOR"
#: How long a writer waits for another workstation's transaction before giving up.
LOCK_TIMEOUT = "30s"
#: Rows per page when the audit log is read in full (verify reads 100,000s of rows).
AUDIT_PAGE = 5000

_APP_READ_WRITE = ("meta", "sealed_models", "requests", "grants")
_APP_INSERT_ONLY = ("users", "cases", "evidence", *APPEND_ONLY)

_META = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"

_V1 = (
    TABLES_V1.format(int="BIGINT")
    + """
CREATE FUNCTION forensics_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION forensics_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION forensics_append_only();
CREATE TRIGGER checkpoints_no_change BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION forensics_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION forensics_append_only();
CREATE INDEX audit_object ON audit (object, action);
"""
)

# v2: user names are case-insensitive identities ("Alice" and "alice" are one user).
_V2 = """
CREATE UNIQUE INDEX IF NOT EXISTS users_name_lower ON users (lower(name));
"""

#: Forward migrations: MIGRATIONS[v] is the SQL script that brings version v to v + 1.
MIGRATIONS: dict[int, str] = {0: _V1, 1: _V2}

_PASSWORD_IN_URL = re.compile(r"(://[^:/@?#]*):[^@/?#]*@")
_PASSWORD_PARAM = re.compile(r"(?i)([?&]password=)[^&#]*")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class DatabasePasswordRequired(StoreError):
    """The server wants a password that neither the URL nor libpq's files provide."""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "PostgreSQL workspaces need psycopg 3: pip install 'uunet-forensics[postgresql]'"
        ) from None
    return psycopg


def is_postgres_url(text: str) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL."""
    return text.startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1:***@", url))


def check_url(url: str) -> str:
    """Validate a workspace database URL; returns it, or raises a one-line StoreError.

    The URL must be ``postgresql://USER@HOST:PORT/DBNAME`` (libpq's syntax; query
    parameters such as ``?service=lab`` allowed) and must hold no password: a workspace
    folder records its URL, and a password never goes into a file in plain text.
    """
    if not is_postgres_url(url):
        raise StoreError(
            f"not a PostgreSQL URL: {redact_url(url)!r} (expected postgresql://USER@HOST:PORT/DB)"
        )
    psycopg = _psycopg()
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error as error:
        raise StoreError(f"bad database URL {redact_url(url)!r}: {_first_line(error)}") from None
    if params.get("password"):
        raise StoreError(
            "the database URL holds a password; put it in ~/.pgpass or a pg_service.conf "
            "service (or answer the prompt): it is never stored in the workspace"
        )
    if not params.get("dbname") and not params.get("service"):
        raise StoreError(f"the database URL {url!r} names no database (…/DBNAME)")
    return url


@functools.lru_cache(maxsize=256)
def _translate(sql: str) -> str:
    """Portable placeholders (``?``, ``:name``) as psycopg's (``%s``, ``%(name)s``)."""
    sql = sql.replace("%", "%%").replace("?", "%s")
    return _NAMED.sub(r"%(\1)s", sql)


def _first_line(error: BaseException) -> str:
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(error) or type(error).__name__
    return text.strip().splitlines()[0].strip() if text.strip() else type(error).__name__


class PostgresStore(Store):
    """A workspace database on a PostgreSQL server; use :meth:`transaction` for changes."""

    backend = "postgresql"

    def __init__(
        self,
        url: str,
        create: bool = False,
        password: str | None = None,
        app_role: str | None = None,
    ) -> None:
        """Connect to ``url``; only ``create`` may write a schema into an empty database.

        ``create`` (as the role that is to own the schema) also migrates an older schema and,
        with ``app_role``, grants that role what the application needs and no more. A
        database holding no workspace is refused otherwise, as the SQLite store refuses an
        empty file. ``password`` (from a prompt) stays in this object's memory, for this
        connection and its reconnections only.
        """
        super().__init__()
        self.url = check_url(url)
        self._pg = _psycopg()
        self._password = password  # memory only: to reconnect after a server restart
        self._conn: psycopg.Connection[dict[str, Any]] = self._connect()
        try:
            if not create and not self._has_schema():
                raise StoreError(
                    f"{self.location} is not a workspace database (empty or foreign); "
                    "restore from backup"
                )
            self._migrate(create)
            if create and app_role:
                self.grant_app_role(app_role)
        except BaseException:
            self._conn.close()
            raise

    @property
    def location(self) -> str:
        return redact_url(self.url)

    def _connect(self) -> Any:
        extra: dict[str, Any] = {"password": self._password} if self._password else {}
        try:
            return self._pg.connect(
                self.url,
                autocommit=True,
                row_factory=self._pg.rows.dict_row,
                connect_timeout=10,
                application_name="uunet-forensics",
                **extra,
            )
        except self._pg.Error as error:
            text = _first_line(error)
            if "no password supplied" in text or "password authentication failed" in text:
                raise DatabasePasswordRequired(
                    f"workspace database {self.location} wants a password: {text}"
                ) from None
            raise StoreError(f"cannot reach workspace database {self.location}: {text}") from None

    def _revive(self) -> None:
        """Reopen a connection the server dropped, before the next transaction or read
        outside one (nothing was open on it, so nothing is lost or replayed); a window left
        open over a server restart carries on after one error. Inside a transaction a lost
        connection stays an error: the server has rolled that transaction back."""
        if self._conn.closed and not self._depth:
            self._conn = self._connect()

    @property
    def user(self) -> str:
        """The role this connection acts as."""
        return str(self._conn.info.user)

    # --- schema --------------------------------------------------------------------------

    def _true(self, sql: str) -> bool:
        """The one boolean of a ``SELECT <condition>`` with no FROM (always one row)."""
        row = self._one(sql)
        if row is None:
            raise StoreError(f"workspace database {self.location} answered no row to {sql!r}")
        return bool(next(iter(row.values())))

    def _has_schema(self) -> bool:
        if not self._true("SELECT to_regclass('meta') IS NOT NULL AS found"):
            return False
        return self._one("SELECT 1 AS one FROM meta WHERE key='schema_version'") is not None

    def _migrate(self, create: bool) -> None:
        found = self._true("SELECT to_regclass('meta') IS NOT NULL AS found")
        version = self.schema_version if found else 0
        self._check_version(version)
        if version == SCHEMA_VERSION:
            return
        if not create:
            raise StoreError(
                f"workspace schema v{version} is older than this program (v{SCHEMA_VERSION}); "
                "upgrade it once as the database owner: forensics workspace upgrade DIR --db OWNER_URL"
            )
        with self.transaction():
            # re-read under the write lock: another workstation may have migrated meanwhile
            if self._true("SELECT to_regclass('meta') IS NULL AS missing"):
                self._script(_META)
            version = self.schema_version
            while version < SCHEMA_VERSION:
                self._script(MIGRATIONS[version])
                version += 1
                self.set_meta("schema_version", str(version))
            self._script("REVOKE ALL ON " + ", ".join(TABLES) + " FROM PUBLIC;")

    def _script(self, sql: str) -> None:
        """Run a multi-statement script (no parameters: the simple query protocol)."""
        try:
            self._conn.execute(sql)
        except self._pg.Error as error:
            raise self._error(error) from None

    def grant_app_role(self, role: str) -> None:
        """Give ``role`` what the application needs: INSERT/SELECT only on the log tables.

        UPDATE, DELETE and TRUNCATE on ``audit`` and ``checkpoints`` are revoked (the
        triggers stay as a second wall); the role gets no DDL and owns nothing.
        """
        sql = self._pg.sql
        ident = sql.Identifier(role)

        def tables(names: tuple[str, ...]) -> Any:
            return sql.SQL(", ").join(sql.Identifier(n) for n in names)

        statements = [
            sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(
                tables(_APP_READ_WRITE), ident
            ),
            sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(tables(_APP_INSERT_ONLY), ident),
            sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(
                tables(_APP_INSERT_ONLY), ident
            ),
        ]
        with self.transaction():
            for statement in statements:
                try:
                    self._conn.execute(statement)
                except self._pg.Error as error:
                    raise StoreError(
                        f"cannot grant the application role {role!r}: {_first_line(error)}"
                    ) from None

    # --- plumbing ------------------------------------------------------------------------

    def _begin(self, durable: bool) -> None:
        self._revive()
        try:
            self._conn.execute(
                "BEGIN ISOLATION LEVEL READ COMMITTED; "
                f"SET LOCAL synchronous_commit TO {'on' if durable else 'off'}; "
                f"SET LOCAL lock_timeout TO '{LOCK_TIMEOUT}'; "
                f"SELECT pg_advisory_xact_lock({WRITE_LOCK});"
            )
        except self._pg.Error as error:
            self._rollback()
            if isinstance(error, self._pg.errors.LockNotAvailable):
                raise StoreError(
                    f"workspace database {self.location} is busy: another workstation held "
                    f"its write lock for {LOCK_TIMEOUT}; try again"
                ) from None
            raise self._error(error) from None

    def _commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except self._pg.Error as error:
            self._rollback()
            if isinstance(error, self._pg.OperationalError):
                raise StoreError(
                    f"lost workspace database {self.location} while committing: "
                    f"{_first_line(error)}; run verify-log once it is back"
                ) from None
            raise StoreError(
                f"cannot commit to the workspace database: {_first_line(error)}"
            ) from None

    def _rollback(self) -> None:
        try:
            if not self._conn.closed:
                self._conn.execute("ROLLBACK")
        except self._pg.Error:
            pass

    def _error(self, error: Exception) -> StoreError:
        text = _first_line(error)
        if isinstance(error, self._pg.OperationalError) or self._conn.closed:
            rolled = "; the unfinished change was not written" if self._depth else ""
            return StoreError(f"lost workspace database {self.location}: {text}{rolled}")
        if isinstance(error, self._pg.IntegrityError):
            return StoreError(f"workspace database refused the change: {text}")
        if isinstance(error, self._pg.errors.InsufficientPrivilege):
            return StoreError(f"workspace database role {self.user!r} may not: {text}")
        return StoreError(f"workspace database error: {text}")

    def _exec(self, sql: str, params: tuple | dict = ()) -> Any:
        self._revive()
        try:
            if not params:  # no placeholders to bind: the text goes as it is
                return self._conn.execute(sql)
            return self._conn.execute(_translate(sql), params)
        except self._pg.Error as error:
            raise self._error(error) from None

    def _many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        self._revive()
        try:
            with self._conn.cursor() as cur:
                cur.executemany(_translate(sql), rows)  # pipelined by psycopg
        except self._pg.Error as error:
            raise self._error(error) from None

    def _one(self, sql: str, params: tuple | dict = ()) -> dict[str, Any] | None:
        cur = self._exec(sql, params)
        try:
            return cur.fetchone()
        except self._pg.Error as error:
            raise self._error(error) from None

    def _iter(self, sql: str, params: tuple | dict = ()) -> Iterator[dict[str, Any]]:
        cur = self._exec(sql, params)
        try:
            rows = cur.fetchall()
        except self._pg.Error as error:
            raise self._error(error) from None
        yield from rows

    def close(self) -> None:
        self._conn.close()

    # --- queries that differ -------------------------------------------------------------

    def decide_request(self, request_id: str, status: str, decision_doc: str) -> bool:
        """Lock the request's row (``FOR UPDATE``), then decide it only if still pending."""
        if self._depth:
            self._exec("SELECT status FROM requests WHERE id=? FOR UPDATE", (request_id,))
        return super().decide_request(request_id, status, decision_doc)

    def iter_audit(self, start: int = 1, stop: int | None = None) -> Iterator[dict[str, Any]]:
        """Audit rows in seq order, read a page at a time so 100,000s fit in little memory."""
        stop = stop if stop is not None else 2**62
        while start <= stop:
            page = self._all(
                "SELECT * FROM audit WHERE seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
                (start, stop, AUDIT_PAGE),
            )
            yield from page
            if len(page) < AUDIT_PAGE:
                return
            start = page[-1]["seq"] + 1
