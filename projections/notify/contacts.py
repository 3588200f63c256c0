"""How to reach an order's customer: the contact fields of its own events, per order in Redis.

The timeline keeps only the e-mail's hash, so the ``notify`` role records what ``order.placed``
and ``order.changed`` say — e-mail, phone, locale, time zone — in one hash per order::

    P:{ORDER}:contacts    hash  email, phone, locale, time_zone, and per field <field>_at
                                (epoch ms of the event that set it)

A field changes only for an event at least as recent as the one that set it (later event wins by
``occurred_at``, whatever the arrival order), and an event that names only some fields leaves
the others alone. With a retention the hash expires ``retention_s`` after its last write, like
the order's timeline; :meth:`ContactStore.forget` erases it.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from projections.due_index import to_score
from projections.notify.model import Contacts

FIELDS = tuple(f.name for f in fields(Contacts))

# KEYS: contacts; ARGV: at (ms), retention_s, then field/value pairs
_RECORD = """
local at = tonumber(ARGV[1])
local changed = 0
for i = 3, #ARGV, 2 do
  local stamp = redis.call('HGET', KEYS[1], ARGV[i] .. '_at')
  if not stamp or tonumber(stamp) <= at then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1], ARGV[i] .. '_at', ARGV[1])
    changed = changed + 1
  end
end
if tonumber(ARGV[2]) > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return changed
"""


class ContactStore:
    """Per-order contacts on a Redis client the caller owns."""

    def __init__(self, client: aioredis.Redis, prefix: str = "wismo", *, retention_s: int = 0):
        self.client = client
        self.prefix = prefix
        self.retention_s = retention_s
        self._record: Any = client.register_script(_RECORD)

    def key(self, order_id: str) -> str:
        return f"{self.prefix}:{{{order_id}}}:contacts"

    async def get(self, order_id: str) -> Contacts:
        raw = await self.client.hmget(self.key(order_id), list(FIELDS))
        values = [None if value is None else _text(value) for value in raw]
        return Contacts(**dict(zip(FIELDS, values, strict=True)))

    async def record(self, order_id: str, contacts: Contacts, occurred_at: datetime) -> int:
        """Merge the fields ``contacts`` names (not ``None``); returns how many changed."""
        pairs: list[str] = []
        for name in FIELDS:
            value = getattr(contacts, name)
            if value is not None:
                pairs += [name, value]
        if not pairs:
            return 0
        args = [to_score(occurred_at), self.retention_s, *pairs]
        changed: int = await self._record(keys=[self.key(order_id)], args=args)
        return changed

    async def forget(self, order_id: str) -> None:
        """Erasure: the order's contacts are gone."""
        await self.client.delete(self.key(order_id))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
