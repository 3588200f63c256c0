"""``oms``: canonical events pushed by the OMS, signed with Standard Webhooks."""

from carriers.base import PackagedSource
from carriers.oms.parse import SOURCE_NAME, parse
from carriers.oms.verify import secret_problem, verify

SOURCE = PackagedSource(SOURCE_NAME, parse, verify, secret_problem)

__all__ = ["SOURCE"]
