"""DHL: Unified Shipment Tracking (pull and push) and MyDHL Express tracking."""

from carriers.base import PackagedSource
from carriers.dhl.parse import parse
from carriers.dhl.verify import verify

SOURCE = PackagedSource("dhl", parse, verify)

__all__ = ["SOURCE"]
