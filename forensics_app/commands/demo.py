"""``forensics demo``: build the demo workspace."""

from __future__ import annotations

import argparse
import sys

from forensics_app.commands._common import require_workspace, with_db_password


def _demo(args: argparse.Namespace) -> int:
    from forensics_app.demo import DEMO_USERS, build_demo

    root = require_workspace(args)

    def progress(text: str, fraction: float) -> None:
        if not args.quiet:
            print(f"[{fraction:4.0%}] {text}", file=sys.stderr, flush=True)

    demo = with_db_password(
        lambda pw: build_demo(
            root, frames=args.frames, progress=progress, db=args.db, app_role=args.app_user,
            password=pw,
        ),
        args.db or "the database",
    )  # fmt: skip
    print(f"demo workspace: {demo.root}")
    print(f"case {demo.case_id}: evidence {demo.public_video.name} sha256 {demo.evidence_sha256}")
    print(f"sealed decoder sha256 {demo.model_sha256} (holders bob, dave)")
    users = ", ".join(f"{name} ({role})" for name, role in DEMO_USERS)
    print(f"users: {users}; passphrase of each: demo-<name>")
    print(f"open it: forensics-app --workspace {demo.root}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="build the demo workspace",
        description=(
            "Build a demo workspace: users alice (analyst), bob and dave (supervisors), carol "
            "(admin), passphrase demo-<name>; the shipped decoder sealed for bob and dave; a "
            "public stream made from the sample clip; case DEMO-1 with it as evidence. The "
            "folder given by --workspace must be new or empty."
        ),
    )
    parser.add_argument("--frames", type=int, default=100, help="sample frames to publish")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--db", metavar="URL", help="build it on this empty PostgreSQL database (owner's URL)"
    )
    parser.add_argument("--app-user", metavar="ROLE", help="as for 'workspace create'")
    parser.set_defaults(handler=_demo)
