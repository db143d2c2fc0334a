"""Copying a workspace's store to another backend: ``forensics workspace migrate``.

A copy is row for row (same seq, hashes, signatures, checkpoints), in one transaction on
the target, from a source whose log verifies first; the copy is then opened as every later
command will open it and verified again, and must end on the same head. Only then does the
folder switch to the new store (its SQLite file kept beside it as ``*.migrated``), so a
failed migration leaves the workspace as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from forensics_app.core.custody.integrity import verify_workspace
from forensics_app.core.custody.store import TABLES, Store
from forensics_app.core.custody.store_sqlite import SQLiteStore
from forensics_app.core.custody.workspace import (
    ANCHOR_NAME,
    DB_NAME,
    DB_POINTER,
    Workspace,
    app_url,
    write_db_pointer,
)
from forensics_app.errors import ForensicsError, StoreError

#: Suffix of the SQLite file a migrated folder keeps (read-only history, not opened again).
MIGRATED_SUFFIX = ".migrated"


def copy_store(source: Store, target: Store) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; returns rows per table.

    One transaction on the target: a copy is whole or absent. The target's own
    ``schema_version`` is kept (both are at this program's version once open).
    """
    if target.get_meta("log_id") is not None or target.audit_head() is not None:
        raise StoreError(f"{target.location} already holds a workspace; copy into an empty one")
    counts: dict[str, int] = {}
    with target.transaction():
        for table in TABLES:
            rows = source.table_rows(table)
            if table == "meta":  # the target keeps its own schema version
                rows = (r for r in rows if r["key"] != "schema_version")
            counts[table] = target.copy_rows(table, rows)
    return counts


def _target_store(root: Path, db: str | None, password: str | None, app_role: str | None) -> Store:
    if db is None:
        return SQLiteStore(root / DB_NAME, create=True)
    from forensics_app.core.custody.store_postgres import PostgresStore

    return PostgresStore(db, create=True, password=password, app_role=app_role)


def copy_workspace(
    source: Workspace,
    target_root: str | Path,
    db: str | None = None,
    *,
    app_role: str | None = None,
    password: str | None = None,
) -> dict[str, Any]:
    """Copy the open workspace ``source`` to a new folder (and store: ``db`` or SQLite).

    The folder's files (log key, anchor, sealed models) are copied as they are; the rows
    go through :func:`copy_store`. Returns the copy's verification summary.
    """
    target_root = Path(target_root)
    if target_root.exists() and any(target_root.iterdir()):
        raise StoreError(f"{target_root} is not empty")
    ignore = shutil.ignore_patterns(DB_NAME, DB_NAME + "-*", DB_POINTER, "*" + MIGRATED_SUFFIX)
    shutil.copytree(source.root, target_root, ignore=ignore, dirs_exist_ok=True)
    with _target_store(target_root, db, password, app_role) as target:
        copy_store(source.store, target)
    if db is not None:
        write_db_pointer(target_root, app_url(db, app_role))
    with Workspace.open(target_root, password=password) as copy:
        return verify_workspace(copy)


def migrate_workspace(
    root: str | Path,
    url: str,
    *,
    app_role: str | None = None,
    password: str | None = None,
) -> dict[str, Any]:
    """Move the SQLite workspace at ``root`` onto the PostgreSQL database ``url``.

    ``url`` names the schema's owner role; ``app_role`` the role daily work will use (the
    folder records the URL with it). Returns ``{"before": summary, "after": summary,
    "rows": counts}``; raises, leaving the folder on SQLite, if anything does not verify.
    """
    root = Path(root)
    with Workspace.open(root) as source:
        if source.store.backend != "sqlite":
            raise StoreError(f"{root} is already on {source.store.location}")
        before = verify_workspace(source)  # never carry a broken log somewhere new
        with _target_store(root, url, password, app_role) as target:
            rows = copy_store(source.store, target)
    db = root / DB_NAME
    moved = [p for p in (db, db.with_name(DB_NAME + "-wal"), db.with_name(DB_NAME + "-shm"))
             if p.exists()]  # fmt: skip
    write_db_pointer(root, app_url(url, app_role))
    for path in moved:
        path.rename(path.with_name(path.name + MIGRATED_SUFFIX))
    try:
        with Workspace.open(root, password=password) as migrated:
            after = verify_workspace(migrated)
        if (after["entries"], after["head"]) != (before["entries"], before["head"]):
            raise StoreError(
                f"the copy ends at entry {after['entries']} ({after['head'][:16]}), the source "
                f"at {before['entries']} ({before['head'][:16]}); the workspace stays on SQLite"
            )
    except ForensicsError:
        (root / DB_POINTER).unlink(missing_ok=True)
        for path in moved:
            path.with_name(path.name + MIGRATED_SUFFIX).rename(path)
        raise
    return {"before": before, "after": after, "rows": rows, "anchor": str(root / ANCHOR_NAME)}
