"""Shopify: order, fulfilment, fulfilment-event, refund and return webhooks, and the Admin API
poller."""

from carriers.base import PackagedSource
from carriers.shopify.parse import SOURCE_NAME, parse
from carriers.shopify.verify import verify

SOURCE = PackagedSource(SOURCE_NAME, parse, verify)

__all__ = ["SOURCE"]
