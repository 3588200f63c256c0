"""The ``wismo`` command line: parses arguments and hands over to the packages.

Each sub-command lives in its own module under :mod:`cli.commands` and exposes
``register(subparsers)``; the modules import what their handlers need inside the handler, so that
``wismo fold`` does not pay for Faust or ClickHouse imports.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from cli.commands import (
    api,
    bench,
    db,
    dlq,
    erase,
    fold,
    normalise,
    predict,
    rebuild,
    run,
    schema,
    simulate,
    sla,
    sync,
    up,
    verify,
)

#: The sub-command modules, in the order ``wismo --help`` lists them.
COMMAND_MODULES = (
    fold,
    schema,
    up,
    normalise,
    run,
    dlq,
    api,
    db,
    rebuild,
    sla,
    predict,
    bench,
    verify,
    simulate,
    erase,
    sync,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wismo", description="Self-hosted Where-Is-My-Order visibility platform."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
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
    except ValidationError as error:
        # the settings (WISMO_… environment) are wrong: say what, without a traceback
        print(f"wismo {args.command}: invalid settings", file=sys.stderr)
        for problem in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in problem["loc"])
            print(f"  {where + ': ' if where else ''}{problem['msg']}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
