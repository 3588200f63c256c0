"""EasyPost: ``tracker.created`` / ``tracker.updated`` webhook Events, and the trackers client."""

from carriers.base import PackagedSource
from carriers.easypost.parse import SOURCE_NAME, parse
from carriers.easypost.verify import verify

SOURCE = PackagedSource(SOURCE_NAME, parse, verify)

__all__ = ["SOURCE"]
