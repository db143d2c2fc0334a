"""Subcommands of the ``forensics`` CLI, one module per product area.

Each module exposes ``register(subparsers)``; a handler receives the parsed
``argparse.Namespace`` and returns an exit code (or None for 0). Handlers stay thin: they
parse options and call the same core functions the GUI calls.
"""
