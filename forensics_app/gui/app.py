"""Entry point of the ``forensics-app`` desktop program."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Start the forensic desktop application."""
    print("forensics-app: the desktop application is not built yet (issue #6)", file=sys.stderr)
    return 2
