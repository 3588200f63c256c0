"""Unmatched scans: tracking events parked because no order names their number, and linking a
number to an order by hand (a ``shipment.linked`` event that releases them)."""

from __future__ import annotations

from aiohttp import web


def add_unmatched_routes(app: web.Application) -> None:
    """The unmatched-scan routes (none yet)."""
