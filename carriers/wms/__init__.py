"""``wms``: canonical events pushed by the WMS, signed with Standard Webhooks."""

from carriers.base import PackagedSource
from carriers.wms.parse import SOURCE_NAME, parse
from carriers.wms.verify import secret_problem, verify

SOURCE = PackagedSource(SOURCE_NAME, parse, verify, secret_problem)

__all__ = ["SOURCE"]
