"""Media subcommands: ``probe``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from forensics_app.core.evidence import sha256_file
from forensics_app.core.video import probe


def probe_report(path: Path, scan: bool = True) -> dict[str, object]:
    """The facts ``forensics probe`` prints: path, size, sha256 and the media info."""
    info = probe(path, scan=scan)  # first, so a non-video fails before a long hash
    digest = sha256_file(path)
    return {
        "path": str(path.resolve()),
        "size": path.stat().st_size,
        "sha256": digest,
        "media": info.to_dict(),
    }


def _probe(args: argparse.Namespace) -> int:
    report = probe_report(Path(args.video), scan=not args.headers_only)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``probe``."""
    parser = sub.add_parser(
        "probe",
        help="print a video's media facts, size and sha256 as JSON",
        description="Print a video's media facts, size and SHA-256 as JSON. The file is only read.",
    )
    parser.add_argument("video", help="the video file (read-only)")
    parser.add_argument(
        "--headers-only",
        action="store_true",
        help="do not scan the packets: frame count from the header or an estimate",
    )
    parser.set_defaults(handler=_probe)
