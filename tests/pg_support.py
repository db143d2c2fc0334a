"""A throwaway PostgreSQL server for the custody tests (issue #18): a real server, no mock.

``initdb`` + ``pg_ctl`` (Debian's ``postgresql`` package) in a fresh temporary folder,
listening on 127.0.0.1 at a free port and on a Unix socket in that folder, trust
authentication, fsync off (a test server; a killed *server* still loses nothing committed).
``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user
(``runuser``). Three roles: ``forensics_su`` (superuser, plays the attacker with a direct
connection), ``forensics_owner`` (owns each test database: the schema and its migrations)
and ``forensics_app`` (what a workspace connects as: INSERT/SELECT only on the log).

When the server cannot start, :class:`PgUnavailable` says why; the fixtures skip with that
reason locally and fail under ``CI=true`` (CI must not pass by skipping the backend).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SUPERUSER = "forensics_su"
OWNER = "forensics_owner"
APP = "forensics_app"
_COUNTER = itertools.count()


class PgUnavailable(Exception):
    """The throwaway server cannot be started here; the message says why."""


def find_bindir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: $PG_BINDIR, Debian's layout, or the PATH."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(str(Path(found).resolve().parent))
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PgUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's 'postgresql' "
        "package or set PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One throwaway server; :meth:`new_database` gives each test its own database."""

    def __init__(self, host_auth: str = "trust", fsync: bool = False) -> None:
        """Start a server; ``host_auth`` is the TCP authentication (e.g. scram-sha-256 for
        the password tests); the Unix socket, which :meth:`admin` uses, is always trust.
        ``fsync`` on for benchmarks of durable commits (off for tests: faster, and a killed
        server still loses nothing committed)."""
        self.fsync = fsync
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise PgUnavailable(
                "psycopg 3 is not installed: pip install 'psycopg[binary]'"
            ) from None
        self.bindir = find_bindir()
        self.runas: str | None = None
        if os.geteuid() == 0:  # initdb and postgres refuse root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PgUnavailable(
                    "running as root and there is no 'postgres' user to run the server as "
                    "(initdb refuses root); install Debian's 'postgresql' package"
                ) from None
            if shutil.which("runuser") is None:
                raise PgUnavailable("running as root and 'runuser' is missing")
            self.runas = "postgres"
        self.base = Path(tempfile.mkdtemp(prefix="forensics-pg-"))
        if self.runas:
            shutil.chown(self.base, user=self.runas)
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = _free_port()
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth-local=trust",
                  f"--auth-host={host_auth}", "-E", "UTF8", "--locale=C", "--no-sync",
                  "-N")  # fmt: skip
        self.start()
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {OWNER} LOGIN")
            conn.execute(f"CREATE ROLE {APP} LOGIN")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.runas:
            command = ["runuser", "-u", self.runas, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            log = self.log.read_text(errors="replace")[-600:] if self.log.exists() else ""
            raise PgUnavailable(f"{tool} failed: {' '.join(tail)} {log}".strip())

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        durability = "" if self.fsync else "-c fsync=off -c full_page_writes=off "
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 {durability}"
            "-c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", options, "start")  # fmt: skip

    def crash(self) -> None:
        """Stop the server the hard way (``pg_ctl stop -m immediate``): no shutdown checkpoint,
        every session cut, crash recovery on the next start, as after a killed server."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, dbname: str, user: str = OWNER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, dbname: str = "postgres") -> Any:
        """A superuser connection (autocommit), as a DBA or an attacker with the server has."""
        import psycopg

        return psycopg.connect(
            host=str(self.base), port=self.port, user=SUPERUSER, dbname=dbname, autocommit=True
        )

    def new_database(self) -> str:
        """A fresh, empty database owned by the owner role; returns its owner URL."""
        name = f"ws_{os.getpid()}_{next(_COUNTER)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {OWNER}")
        return self.url(name)


def sibling_database(url: str) -> str:
    """A fresh database on the server of ``url`` (a workspace's), as its owner URL."""
    import psycopg

    host_port = url.split("@", 1)[1].split("/", 1)[0]
    name = f"ws_{os.getpid()}_{next(_COUNTER)}_b"
    with psycopg.connect(f"postgresql://{SUPERUSER}@{host_port}/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name} OWNER {OWNER}")
    return f"postgresql://{OWNER}@{host_port}/{name}"


def start_or_explain(host_auth: str = "trust", fsync: bool = False) -> PgServer | str:
    """A running server, or the reason there is none."""
    try:
        return PgServer(host_auth, fsync)
    except PgUnavailable as error:
        return str(error)
    except (OSError, subprocess.SubprocessError) as error:
        return f"cannot start the throwaway PostgreSQL server: {error}"


def unavailable(reason: str) -> None:
    """Skip with ``reason`` locally; fail under CI=true (no silent skip of a backend in CI)."""
    import pytest

    message = f"PostgreSQL backend not tested: {reason}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class RawSQL:
    """A direct connection to a workspace's database, as an attacker or a DBA would use.

    ``execute`` takes SQLite-style ``?`` placeholders on both backends. ``unguarded``
    switches off the append-only triggers first (an attacker who owns the database file or
    the server can); ``trigger_names`` differ by backend, so tests never name them.
    """

    def __init__(self, ws: Any, unguarded: bool = False) -> None:
        self.backend = ws.store.backend
        if self.backend == "sqlite":
            import sqlite3

            self.conn = sqlite3.connect(ws.store.path, isolation_level=None)
            if unguarded:
                for name in ("audit_no_update", "audit_no_delete"):
                    self.conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            import psycopg

            url = ws.store.url
            host = url.split("@", 1)[1]
            self.conn = psycopg.connect(f"postgresql://{SUPERUSER}@{host}", autocommit=True)
            if unguarded:
                self.conn.execute("ALTER TABLE audit DISABLE TRIGGER USER")

    def unguard_checkpoints(self) -> None:
        if self.backend == "sqlite":
            for name in ("checkpoints_no_update", "checkpoints_no_delete"):
                self.conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            self.conn.execute("ALTER TABLE checkpoints DISABLE TRIGGER USER")

    def jam_audit(self, message: str) -> None:
        """Make every audit insert fail with ``message``, as a full disk would."""
        if self.backend == "sqlite":
            self.conn.execute(
                "CREATE TRIGGER jam BEFORE INSERT ON audit "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        else:
            self.conn.execute(
                "CREATE FUNCTION jam() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"RAISE EXCEPTION '{message}'; END $$"
            )
            self.conn.execute(
                "CREATE TRIGGER jam BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION jam()"
            )

    def unjam_audit(self) -> None:
        self.conn.execute("DROP TRIGGER jam" + (" ON audit" if self.backend != "sqlite" else ""))

    def execute(self, sql: str, params: tuple = ()) -> Any:
        if self.backend == "postgresql":
            sql = sql.replace("?", "%s")
        return self.conn.execute(sql, params) if params else self.conn.execute(sql)

    def close(self) -> None:
        self.conn.close()
