"""AfterShip: ``tracking_update`` and ``edd_revise`` webhooks, and the tracking API client."""

from carriers.aftership.parse import FEED, parse
from carriers.aftership.verify import verify
from carriers.base import PackagedSource

SOURCE = PackagedSource(FEED.source, parse, verify)

__all__ = ["SOURCE"]
