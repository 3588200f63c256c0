"""FedEx: Track API responses and tracking webhook pushes (see docs/adding-a-carrier.md)."""

from carriers.base import PackagedSource
from carriers.fedex.parse import parse
from carriers.fedex.verify import verify

SOURCE = PackagedSource("fedex", parse, verify)

__all__ = ["SOURCE"]
