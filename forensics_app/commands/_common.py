"""Helpers shared by the CLI subcommand modules."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

from forensics_app.errors import InputError


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
