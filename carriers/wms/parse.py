"""The WMS feed: canonical events, one, an array or ``{"events": [...]}``."""

from __future__ import annotations

from datetime import datetime

from carriers.base import Headers, ParseResult
from carriers.canonical import parse_feed

SOURCE_NAME = "wms"


def parse(raw: bytes, headers: Headers, received_at: datetime) -> ParseResult:
    return parse_feed(SOURCE_NAME, raw, headers, received_at)
