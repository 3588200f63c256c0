"""How agents work exceptions to the end: assignment, notes, escalation, bulk actions, a
message to the customer, and the supervisors' queue. Every action becomes a canonical event."""

from __future__ import annotations

from aiohttp import web


def add_agent_work_routes(app: web.Application) -> None:
    """The agent-work routes (none yet)."""
