"""``forensics workspace``: create a workspace (SQLite or PostgreSQL), show it, migrate it.

``workspace create DIR --db postgresql://OWNER@HOST:PORT/DB --app-user ROLE`` makes a folder
whose store is that database: the owner role creates the schema, ``ROLE`` is granted what
daily work needs (INSERT/SELECT only on the log) and is what the folder records. Every other
command keeps taking ``--workspace DIR``. A password is never part of the URL: libpq reads
``~/.pgpass`` or a ``pg_service.conf`` service, or these commands prompt for it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from forensics_app.commands._common import require_workspace, with_db_password
from forensics_app.core import custody as cu
from forensics_app.errors import InputError


def _workspace_dir(args: argparse.Namespace) -> Path:
    folder = getattr(args, "dir", None)
    return Path(folder) if folder else require_workspace(args)


def cmd_create(args: argparse.Namespace) -> int:
    root = _workspace_dir(args)
    if args.app_user and not args.db:
        raise InputError("--app-user names a database role: it needs --db URL")
    if (root / cu.workspace.DB_NAME).exists() or (root / cu.workspace.DB_POINTER).exists():
        raise InputError(f"{root} already holds a workspace")

    def open_it(password: str | None) -> cu.Workspace:
        return cu.Workspace.open(
            root, create=True, db=args.db, password=password, app_role=args.app_user
        )

    with with_db_password(open_it, args.db or "the database") as ws:
        info = ws.info()
    print(f"workspace {info['root']}: {info['backend']} store {info['database']}")
    print(f"log {info['log_id']} signed by key {info['log_key_id']}")
    print("next: forensics --workspace DIR user add NAME --role admin")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    root = _workspace_dir(args)
    with with_db_password(lambda pw: cu.Workspace.open(root, password=pw)) as ws:
        for key, value in ws.info().items():
            print(f"{key}: {value}")
        print(f"entries: {ws.audit.size()}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from forensics_app.core.custody.migrate import migrate_workspace

    root = _workspace_dir(args)
    result = with_db_password(
        lambda pw: migrate_workspace(root, args.to, app_role=args.app_user, password=pw),
        args.to,
    )
    after = result["after"]
    rows = sum(result["rows"].values())
    print(f"copied {rows} rows; the copy verifies: {after['entries']} entries, head "
          f"{after['head'][:16]}, {after['checkpoints']} checkpoints")  # fmt: skip
    print(f"{root} now uses {cu.workspace.read_db_pointer(root)}; the SQLite file is kept as "
          f"{cu.workspace.DB_NAME}.migrated")  # fmt: skip
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    root = _workspace_dir(args)
    recorded = cu.workspace.read_db_pointer(root)
    app_role = urlsplit(recorded).username  # keep granting the role the folder records

    def open_it(password: str | None) -> cu.Workspace:
        return cu.Workspace.open(root, create=True, db=args.db, password=password,
                                 app_role=app_role)  # fmt: skip

    with with_db_password(open_it, args.db) as ws:
        print(f"schema v{ws.store.schema_version} on {ws.store.location}; {app_role} granted")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ws = sub.add_parser(
        "workspace", help="create a workspace (SQLite or PostgreSQL), info, migrate"
    )
    wsub = ws.add_subparsers(dest="workspace_action", metavar="ACTION", required=True)
    p = wsub.add_parser(
        "create",
        help="make a new workspace folder (its store: SQLite, or --db a PostgreSQL database)",
    )
    p.add_argument("dir", nargs="?", help="the new workspace folder (default: --workspace)")
    p.add_argument(
        "--db",
        metavar="URL",
        help="postgresql://OWNER@HOST:PORT/DBNAME (no password: ~/.pgpass, a service or a prompt)",
    )
    p.add_argument(
        "--app-user",
        metavar="ROLE",
        help="database role the folder records for daily work (INSERT/SELECT only on the log)",
    )
    p.set_defaults(handler=cmd_create)
    p = wsub.add_parser("info", help="where the workspace's store is, its schema and log")
    p.add_argument("dir", nargs="?", help="the workspace folder (default: --workspace)")
    p.set_defaults(handler=cmd_info)
    p = wsub.add_parser(
        "migrate",
        help="copy a SQLite workspace with its log to PostgreSQL, re-verify, switch the folder",
    )
    p.add_argument("dir", nargs="?", help="the workspace folder (default: --workspace)")
    p.add_argument("--to", required=True, metavar="URL", help="postgresql://OWNER@HOST:PORT/DB")
    p.add_argument("--app-user", metavar="ROLE", help="as for 'workspace create'")
    p.set_defaults(handler=cmd_migrate)
    p = wsub.add_parser(
        "upgrade", help="migrate a PostgreSQL workspace's schema as its owner role, re-grant"
    )
    p.add_argument("dir", nargs="?", help="the workspace folder (default: --workspace)")
    p.add_argument("--db", required=True, metavar="URL", help="the owner role's URL")
    p.set_defaults(handler=cmd_upgrade)
