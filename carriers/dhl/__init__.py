"""DHL: Unified Shipment Tracking (pull and push) and MyDHL Express tracking."""

from carriers.base import PackagedSource
from carriers.dhl.parse import FEED, parse
from carriers.dhl.verify import verify

SOURCE = PackagedSource(FEED.source, parse, verify)

__all__ = ["SOURCE"]
