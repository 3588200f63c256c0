"""What a customer does on /track: report a problem (with a photo), request a return or a
cancellation. Every action needs the order's customer token and becomes a canonical event."""

from __future__ import annotations

from aiohttp import web


def add_customer_action_routes(app: web.Application) -> None:
    """The customer-action routes (none yet)."""
