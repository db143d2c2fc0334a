"""``forensics eval`` and ``forensics bench``."""

from __future__ import annotations

import argparse

from forensics_app.commands._common import add_pending


def register(sub: argparse._SubParsersAction) -> None:
    add_pending(sub, "eval", "measure quality (detection, leakage, reconstruction)", "issue #8")
    add_pending(sub, "bench", "measure speed of every stage", "issue #8")
