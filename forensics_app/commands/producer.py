"""Camera-side subcommands: ``deidentify`` and ``roi``."""

from __future__ import annotations

import argparse

from forensics_app.commands._common import add_pending


def register(sub: argparse._SubParsersAction) -> None:
    add_pending(sub, "deidentify", "replace faces by U_e surrogates and hide the ROIs", "issue #4")
    add_pending(sub, "roi", "print the hidden ROI message of every frame", "issue #4")
