"""Salesforce Order Management: records and platform events from Flow/Apex callouts, a relay or
the REST API poller."""

from carriers.base import PackagedSource
from carriers.salesforce_om.parse import SOURCE_NAME, parse
from carriers.salesforce_om.verify import secret_problem, verify

SOURCE = PackagedSource(SOURCE_NAME, parse, verify, secret_problem)

__all__ = ["SOURCE"]
