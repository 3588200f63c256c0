"""``wismo normalise --source SRC FILE``: a source's raw payload as canonical events (JSON lines).

Problems go to stderr. Exit 2, with the reason, when the input is malformed or invalid (unless
``--skip-invalid``), or, with ``--verify``, when its signature does not check out.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from cli.commands import SubParsers


def _header(text: str) -> tuple[str, str]:
    name, separator, value = text.partition(":")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME:VALUE, got {text!r}")
    return name.strip().lower(), value.strip()


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 timestamp: {text!r}") from error
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"needs a UTC offset: {text!r}")
    return value


def register(subparsers: SubParsers) -> None:
    from carriers.registry import names

    parser = subparsers.add_parser(
        "normalise",
        aliases=["normalize"],
        help="turn a carrier/feed payload into canonical events (JSON lines)",
        description=(
            "Parses one raw payload of a source (a webhook body as received) and prints its "
            "canonical events, one JSON object per line. Problems (unmapped codes, invalid "
            "items) are reported on stderr."
        ),
    )
    parser.add_argument("--source", required=True, choices=names(), help="the payload's source")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        type=_header,
        metavar="NAME:VALUE",
        help="an HTTP header of the delivery (repeatable), e.g. webhook-id:msg_1",
    )
    parser.add_argument("--verify", action="store_true", help="check the signature first")
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        help="a live signing secret (repeat for two during a rotation)",
    )
    parser.add_argument(
        "--now", type=_instant, help="the clock for timestamp checks and received_at"
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="print the valid events of a partly invalid payload and exit 0",
    )
    parser.add_argument("file", help="the raw payload, or - for stdin")
    parser.set_defaults(handler=run)


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as stream:
        return stream.read()


def run(args: argparse.Namespace) -> int:
    from carriers.registry import get
    from wismo.events import dump_event

    try:
        raw = _read(args.file)
    except OSError as error:
        print(f"wismo normalise: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    source = get(args.source)
    headers = dict(args.header)
    now: datetime = args.now or datetime.now(UTC)
    if args.verify:
        if not args.secret:
            print("wismo normalise: --verify needs at least one --secret", file=sys.stderr)
            return 2
        for i, secret in enumerate(args.secret, 1):
            if (malformed := source.secret_problem(secret)) is not None:
                print(f"wismo normalise: --secret #{i} {malformed}", file=sys.stderr)
                return 2
        rejected = source.verify(raw, headers, args.secret, now)
        if rejected is not None:
            print(f"wismo normalise: signature rejected: {rejected}", file=sys.stderr)
            return 2
    result = source.parse(raw, headers, now)
    for problem in result.problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if result.fatal and not args.skip_invalid:
        print(
            f"wismo normalise: {args.file} is not a valid {args.source} payload; nothing printed",
            file=sys.stderr,
        )
        return 2
    for event in result.events:
        sys.stdout.buffer.write(dump_event(event) + b"\n")
    return 0
