"""USPS: Tracking v3 responses and tracking subscription notifications."""

from carriers.base import PackagedSource
from carriers.usps.parse import FEED, parse
from carriers.usps.verify import verify

SOURCE = PackagedSource(FEED.source, parse, verify)

__all__ = ["SOURCE"]
