"""Custody subcommands: users, cases, evidence, seal, request/approve/deny, reveal, verify-log."""

from __future__ import annotations

import argparse

from forensics_app.commands._common import add_pending

PENDING = (
    ("user", "manage users (add)"),
    ("case", "manage cases (create)"),
    ("evidence", "add evidence to a case (prints its sha256)"),
    ("seal", "encrypt a decoder for its supervisor holders"),
    ("request", "file an unlock request (analyst)"),
    ("approve", "approve an unlock request (supervisor)"),
    ("deny", "deny an unlock request (supervisor)"),
    ("reveal", "reconstruct the faces a grant allows"),
    ("verify-log", "verify the audit log's chain, checkpoints and signatures"),
)


def register(sub: argparse._SubParsersAction) -> None:
    for name, help_text in PENDING:
        add_pending(sub, name, help_text, "issue #5")
