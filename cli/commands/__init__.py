"""``wismo`` sub-commands; each module has ``register(subparsers)`` and a handler."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeAlias, TypeVar

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

T = TypeVar("T")


def run_on_stores(command: str, work: Coroutine[Any, Any, T]) -> T | None:
    """Run a command's work on the stores; a store that refuses (unreachable, a chDB path held
    by another process, …) is said on stderr as ``wismo COMMAND: reason``, and gives ``None``."""
    from projections.errors import StoreError

    try:
        return asyncio.run(work)
    except StoreError as error:
        print(f"wismo {command}: {error}", file=sys.stderr)
        return None
