"""Escalations the ``cases`` agent already handled, in Redis: a redelivered escalation (a
restart before the offset was committed) neither calls Salesforce nor sends its
``exception.case_opened`` again. One key per escalation event, kept ``keep_s``."""

from __future__ import annotations

import redis.asyncio as aioredis

KEEP_S = 90 * 24 * 3600


class HandledEscalations:
    def __init__(self, client: aioredis.Redis, prefix: str, keep_s: int = KEEP_S) -> None:
        self._client = client
        self._prefix = f"{prefix}:cases:handled"
        self._keep_s = keep_s

    def _key(self, escalation_event_id: str) -> str:
        return f"{self._prefix}:{escalation_event_id}"

    async def outcome(self, escalation_event_id: str) -> str | None:
        """What became of the escalation (``opened:<case id>`` or ``dead:<reason>``), if it was
        handled."""
        found = await self._client.get(self._key(escalation_event_id))
        return None if found is None else found.decode() if isinstance(found, bytes) else str(found)

    async def remember(self, escalation_event_id: str, outcome: str) -> None:
        await self._client.set(self._key(escalation_event_id), outcome, ex=self._keep_s)
