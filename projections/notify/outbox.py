"""The development outbox: what the embedded sinks received, newest first.

``wismo up`` starts a local SMTP sink, an SMS sink and an echo webhook receiver
(:mod:`cli.runtime.sinks`); each records what it got here, and the API's ``/outbox`` page shows it
rendered. It is a development aid, not a delivery log: a capped Redis list (the newest
:data:`CAP` items) under ``P:{notify}:outbox``, hash-tagged so it sits on one Redis Cluster slot
beside the other ``notify`` keys.

An item is a JSON object::

    {"kind": "email" | "sms" | "webhook", "received_at": ISO-8601, "message_id": str | None,
     "to": str, "subject": str | None, "text": str | None, "html": str | None,
     "headers": {name: value}, "body": str | None, "verified": bool | None, "duplicate": bool}

``verified`` is the webhook signature check (None: not a webhook, or no secret known);
``duplicate`` marks a repeat of a message id the sink had already received, kept so the page can
show that a re-send happened while the first copy stays the one that counts.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

#: how many items the outbox keeps (the oldest fall off)
CAP = 500

OutboxItem = dict[str, Any]


class Outbox:
    """The capped list of received development messages (a Redis client the caller owns)."""

    def __init__(self, client: aioredis.Redis, prefix: str, *, cap: int = CAP) -> None:
        self.key = f"{prefix}:{{notify}}:outbox"
        self._client = client
        self._cap = cap

    async def append(self, item: OutboxItem) -> None:
        """Record one received message at the head; trim to the cap in the same round trip."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.lpush(self.key, json.dumps(item, separators=(",", ":"), default=str))
            pipe.ltrim(self.key, 0, self._cap - 1)
            await pipe.execute()

    async def recent(self, limit: int = 100) -> list[OutboxItem]:
        """The newest ``limit`` items, newest first."""
        if limit <= 0:
            return []
        raw = await self._client.lrange(self.key, 0, limit - 1)
        items: list[OutboxItem] = []
        for entry in raw:
            value = json.loads(entry)
            if isinstance(value, dict):
                items.append(value)
        return items

    async def clear(self) -> None:
        await self._client.delete(self.key)
