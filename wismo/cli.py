"""The ``wismo`` command line: parses arguments and hands over to the packages.

Each sub-command lives in its own module under :mod:`wismo.commands` and exposes
``register(subparsers)``; the modules are imported lazily by name so that ``wismo fold`` does not
pay for Faust or ClickHouse imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules under wismo.commands, each registering one or more sub-commands.
COMMAND_MODULES = (
    "fold",
    "schema",
    "up",
    "normalize",
    "run",
    "dlq",
    "api",
    "db",
    "rebuild",
    "sla",
    "bench",
    "verify",
    "simulate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wismo", description="Self-hosted Where-Is-My-Order visibility platform."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"wismo.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
