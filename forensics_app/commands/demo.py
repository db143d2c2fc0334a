"""``forensics demo``: build the demo workspace."""

from __future__ import annotations

import argparse

from forensics_app.commands._common import add_pending


def register(sub: argparse._SubParsersAction) -> None:
    add_pending(sub, "demo", "build the demo workspace", "issue #6")
