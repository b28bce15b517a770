"""``python -m designer``: the headless CLI, built on the same core as the window.

Each group of commands lives in its own module with a ``register(subparsers)``
function; a command handler returns an exit code. A ``DesignerError`` prints one
clear line and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from designer.base.errors import DesignerError
from designer.cli import core, export, train

COMMAND_GROUPS = (core, train, export)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m designer",
        description="NetSurgeon: open, edit, analyze, train and export pretrained networks.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        return int(args.handler(args) or 0)
    except DesignerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output went to a pager or `head` that stopped reading
        sys.stderr.close()
        return 0
