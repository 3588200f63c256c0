"""EasyPost: ``tracker.created`` / ``tracker.updated`` webhook Events, and the trackers client."""

from carriers.base import PackagedSource
from carriers.easypost.parse import FEED, parse
from carriers.easypost.verify import verify

SOURCE = PackagedSource(FEED.source, parse, verify)

__all__ = ["SOURCE"]
