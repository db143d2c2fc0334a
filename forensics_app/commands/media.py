"""Media subcommands: ``probe``."""

from __future__ import annotations

import argparse

from forensics_app.commands._common import add_pending


def register(sub: argparse._SubParsersAction) -> None:
    add_pending(sub, "probe", "print a video's media facts and sha256 as JSON", "issue #2")
