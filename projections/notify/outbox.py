"""The development outbox: what the embedded sinks received, newest first.

``wismo up`` starts a local SMTP sink, an SMS sink and an echo webhook receiver
(:mod:`cli.runtime.sinks`); each records what it got here, and the API's ``/outbox`` page shows it
rendered. It is a development aid, not a delivery log: capped Redis lists, one per kind (the
newest :data:`CAP` e-mails, texts and webhook deliveries under ``P:{notify}:outbox:<kind>``, so a
flood of webhooks never pushes the e-mails out), hash-tagged so they sit on one Redis Cluster slot
beside the other ``notify`` keys; :meth:`Outbox.recent` merges them, newest first.

An item is a JSON object::

    {"kind": "email" | "sms" | "webhook", "received_at": ISO-8601, "message_id": str | None,
     "to": str, "subject": str | None, "text": str | None, "html": str | None,
     "headers": {name: value}, "body": str | None, "verified": bool | None, "duplicate": bool,
     "planned": {"order_id": str, "milestone": str, "channel": str, "recipient": str} | None}

``verified`` is the webhook signature check (None: not a webhook, or no secret known);
``duplicate`` marks a repeat of a message id the sink had already received (:meth:`Outbox.record`
keeps the newest :data:`SEEN_CAP` ids per kind in ``P:{notify}:outbox:seen``): the repeat is
listed without its content, so the page shows that a re-send happened while the first copy stays
the one that counts.

``planned`` is what the notification ledger planned under the item's message id
(:func:`planned`): the order, the milestone key (``shipped:SH-1``, ``delayed:<exception id>``, an
integrator event's ``evt_…``, ``agent:<message id>``), the channel, and the recipient as planned
(an address, a number, or a webhook subscription id); None when the ledger does not know the id.
A message id says whether the same message arrived twice; ``planned`` says whether one milestone
reached one recipient under two different ids.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from projections.notify.model import Message

#: how many items of each kind the outbox keeps (the oldest fall off)
CAP = 500
#: the kinds kept apart (anything else shares one more list)
KINDS = ("email", "sms", "webhook")
#: how many received message ids the duplicate check remembers
SEEN_CAP = 20_000
#: what a duplicate's item does not repeat
_CONTENT = ("text", "html", "body")

OutboxItem = dict[str, Any]


def planned(message: Message) -> dict[str, str]:
    """An item's ``planned`` field: what ``message`` is about, from its idempotency key
    (``order|milestone key|channel|recipient``)."""
    channel = message.channel.value
    head, tail = f"{message.order_id}|", f"|{channel}|{message.recipient}"
    key = message.key
    fits = key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail)
    return {
        "order_id": message.order_id,
        "milestone": key[len(head) : len(key) - len(tail)] if fits else key,
        "channel": channel,
        "recipient": message.recipient,
    }


class Outbox:
    """The capped lists of received development messages (a Redis client the caller owns)."""

    def __init__(self, client: aioredis.Redis, prefix: str, *, cap: int = CAP) -> None:
        self.key = f"{prefix}:{{notify}}:outbox"
        self.seen_key = f"{self.key}:seen"
        self._client = client
        self._cap = cap

    def kind_key(self, kind: object) -> str:
        return f"{self.key}:{kind if kind in KINDS else 'other'}"

    async def append(self, item: OutboxItem) -> None:
        """Record one received message at the head of its kind's list, trimmed to the cap in
        the same round trip."""
        key = self.kind_key(item.get("kind"))
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(item, separators=(",", ":"), default=str))
            pipe.ltrim(key, 0, self._cap - 1)
            await pipe.execute()

    async def record(self, item: OutboxItem, dedup: str | None) -> bool:
        """Append ``item`` flagged ``duplicate`` when ``dedup`` (a kind-qualified message id)
        was recorded before, then without its content. Whether it was the first copy."""
        first = True
        if dedup:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zadd(self.seen_key, {dedup: time.time()}, nx=True)
                pipe.zremrangebyrank(self.seen_key, 0, -SEEN_CAP - 1)
                added, _ = await pipe.execute()
            first = bool(added)
        if first:
            await self.append({**item, "duplicate": False})
        else:
            repeat = {key: value for key, value in item.items() if key not in _CONTENT}
            await self.append({**repeat, "duplicate": True})
        return first

    async def recent(
        self, limit: int = 100, kind: str | None = None, to: str | None = None
    ) -> list[OutboxItem]:
        """The newest ``limit`` items (of ``kind``, or of every kind), newest first; with ``to``,
        only those sent to that address or number (compared without case or surrounding space),
        looked for among everything kept."""
        if limit <= 0:
            return []
        keys = [self.kind_key(kind)] if kind is not None else self._keys()
        wanted = to.strip().casefold() if to is not None else None
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.lrange(key, 0, -1 if wanted is not None else limit - 1)
            lists = await pipe.execute()
        items: list[OutboxItem] = []
        for raw in lists:
            for entry in raw:
                value = json.loads(entry)
                if not isinstance(value, dict):
                    continue
                if wanted is None or str(value.get("to") or "").strip().casefold() == wanted:
                    items.append(value)
        # each list is newest first; a stable sort keeps that order among equal times
        items.sort(key=lambda item: str(item.get("received_at") or ""), reverse=True)
        return items[:limit]

    async def clear(self) -> None:
        await self._client.delete(*self._keys(), self.seen_key)

    def _keys(self) -> list[str]:
        return [self.kind_key(kind) for kind in (*KINDS, "other")]
