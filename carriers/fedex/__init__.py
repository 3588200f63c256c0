"""FedEx: Track API responses and tracking webhook pushes (see docs/adding-a-carrier.md)."""

from carriers.base import PackagedSource
from carriers.fedex.parse import FEED, parse
from carriers.fedex.verify import verify

SOURCE = PackagedSource(FEED.source, parse, verify)

__all__ = ["SOURCE"]
