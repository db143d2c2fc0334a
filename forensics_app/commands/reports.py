"""Disclosure subcommands: ``report``, ``export``, ``verify-export``."""

from __future__ import annotations

import argparse

from forensics_app.commands._common import add_pending


def register(sub: argparse._SubParsersAction) -> None:
    add_pending(sub, "report", "write the forensic PDF report of a case", "issue #7")
    add_pending(sub, "export", "write a signed court export bundle", "issue #7")
    add_pending(sub, "verify-export", "verify a court export offline", "issue #7")
