"""Training subcommands: ``train attributes|uunet|bootstrap-data``."""

from __future__ import annotations

import argparse

from forensics_app.commands._common import add_pending


def register(sub: argparse._SubParsersAction) -> None:
    add_pending(sub, "train", "train D_a (attributes) or U_e/U_d (uunet)", "issue #3")
