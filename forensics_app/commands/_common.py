"""Helpers shared by the CLI subcommand modules."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from forensics_app.errors import InputError

if TYPE_CHECKING:
    from forensics_app.core.custody import Workspace

T = TypeVar("T")


def require_workspace(args: argparse.Namespace) -> Path:
    """The global --workspace (or $FORENSICS_WORKSPACE), or a clear error."""
    if not getattr(args, "workspace", None):
        raise InputError("no workspace: pass --workspace DIR or set FORENSICS_WORKSPACE")
    return Path(args.workspace)


def add_passphrase_option(parser: argparse.ArgumentParser) -> None:
    """Add --passphrase-file to a parser whose command needs a user's passphrase."""
    parser.add_argument(
        "--passphrase-file",
        help="read the passphrase from this file (else $FORENSICS_PASSPHRASE, else a prompt)",
    )


def read_passphrase(args: argparse.Namespace, user: str) -> str:
    """The passphrase of ``user``: --passphrase-file, $FORENSICS_PASSPHRASE, or a prompt."""
    path = getattr(args, "passphrase_file", None)
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise InputError(f"cannot read passphrase file {path}: {error.strerror}") from None
    env = os.environ.get("FORENSICS_PASSPHRASE")
    if env is not None:
        return env
    try:
        return getpass.getpass(f"Passphrase for {user}: ")
    except EOFError:
        raise InputError(f"no passphrase for {user}: no terminal to prompt on") from None


def with_db_password(open_it: Callable[[str | None], T], what: str = "the database") -> T:
    """Call ``open_it(None)``; if a PostgreSQL server wants a password libpq found neither in
    ``~/.pgpass`` nor in a service file, prompt once (on a terminal only) and call
    ``open_it(password)``. The password is never stored."""
    from forensics_app.core.custody.store_postgres import DatabasePasswordRequired

    try:
        return open_it(None)
    except DatabasePasswordRequired as error:
        if not sys.stdin.isatty():
            raise InputError(f"{error} (no terminal to prompt on; use ~/.pgpass)") from None
        try:
            password = getpass.getpass(f"Password for {what}: ")
        except EOFError:
            raise InputError(f"{error} (no password given)") from None
        return open_it(password)


def open_workspace(args: argparse.Namespace, create: bool = False) -> Workspace:
    """The workspace of ``--workspace``, prompting for a database password if one is needed."""
    from forensics_app.core.custody import Workspace

    root = require_workspace(args)
    return with_db_password(lambda pw: Workspace.open(root, create=create, password=pw))
