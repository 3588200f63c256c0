"""UPS: Track API responses and Track Alert webhooks (see docs/adding-a-carrier.md)."""

from carriers.base import PackagedSource
from carriers.ups.parse import FEED, parse
from carriers.ups.verify import verify

SOURCE = PackagedSource(FEED.source, parse, verify)

__all__ = ["SOURCE"]
