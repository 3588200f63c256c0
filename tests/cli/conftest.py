"""Fixtures of the command tests that need a broker: one embedded Tansu per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.runtime.embedded import start_tansu, stop_process


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """The bootstrap address of a Tansu broker of the module's own."""
    process, bootstrap = start_tansu()
    try:
        yield bootstrap
    finally:
        stop_process(process, "tansu")
