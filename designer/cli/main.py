"""``python -m designer``: the headless CLI, built on the same core as the window.

Each group of commands lives in its own module with a ``register(subparsers)``
function; a command handler returns an exit code. A ``DesignerError`` prints one
clear line and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from designer.app.session import command_settings
from designer.base.errors import DesignerError
from designer.base.jobs import failure_of
from designer.cli import audit, compress, core, explain, export, lrfind, train
from designer.cli.flags import number

COMMAND_GROUPS = (core, train, lrfind, explain, export, audit, compress)
NO_BUILD = ("models",)  # commands that never build a network


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (and exit status 2), like every other bad input."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m designer",
        description="NetSurgeon: open, edit, analyze, train and export pretrained networks.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    for name, command in subparsers.choices.items():
        if name not in NO_BUILD:
            command.add_argument("--trust-builder", action="store_true",
                                 help="allow a design whose base is a Python builder "
                                      "(package.module:function) to run that code; only for code you trust")
            command.add_argument("--memory-limit", type=number(0.1, 1e6), metavar="GB",
                                 help="most memory a network may need here (default: 80%% of this "
                                      "computer's RAM)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    with command_settings(bool(getattr(args, "trust_builder", False)), getattr(args, "memory_limit", None)):
        return _run(args)


def _run(args) -> int:
    """The command's exit status; every failure is one line on stderr, never a traceback."""
    try:
        return int(args.handler(args) or 0)
    except DesignerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused (a name too long, a full disk): the user can act
        if isinstance(exc, BrokenPipeError):
            sys.stderr.close()
            return 0
        where = f" '{exc.filename}'" if exc.filename else ""
        print(f"error: Cannot use{where}: {exc.strerror or exc}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- a bug of ours: one line and a log, never a traceback
        failure = failure_of(exc)
        print(f"error: {failure.message} Details: {failure.log_path}", file=sys.stderr)
        return 1
