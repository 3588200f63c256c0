"""Fixtures the notify tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.streams.notify.harness import Servers


@pytest.fixture
def servers() -> Iterator[Servers]:
    """A webhook receiver and an SMTP server on 127.0.0.1, in a thread of their own (for the
    role in worker processes)."""
    with Servers() as running:
        yield running
