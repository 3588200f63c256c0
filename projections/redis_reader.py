"""Reading timelines from Redis: an order's timeline, events and duplicate counts, several
orders' current state in one round trip, and the customer lookup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from projections.lookup import document_matches, lookup_key, query_tokens
from projections.ordering import canonical_sequence
from projections.redis_keys import RedisKeys
from projections.redis_pipes import RedisPipes, as_bytes, text
from projections.store import TimelineChange
from wismo.events import Event, parse_event


class TimelineReader:
    def __init__(self, pipes: RedisPipes, keys: RedisKeys) -> None:
        self._pipes = pipes
        self.keys = keys

    async def timeline(self, order_id: str) -> bytes | None:
        async with self._pipes.talking():
            document = await self._pipes.client.hget(self.keys.state(order_id), "json")
        return None if document is None else as_bytes(document)

    async def current(self, order_ids: Sequence[str]) -> list[TimelineChange]:
        fields = ("json", "version", "digest", "status")

        def build(pipe: Any) -> None:
            for order_id in order_ids:
                pipe.hmget(self.keys.state(order_id), *fields)

        replies = await self._pipes.execute(build) if order_ids else []
        return [
            TimelineChange(order_id, int(version), text(digest), text(status), as_bytes(document))
            for order_id, (document, version, digest, status) in zip(
                order_ids, replies, strict=True
            )
            if document is not None
        ]

    async def events(self, order_id: str) -> list[Event]:
        async with self._pipes.talking():
            stored = await self._pipes.client.hgetall(self.keys.events(order_id))
        return canonical_sequence(parse_event(v) for v in stored.values())

    async def applied_ids(self, order_id: str) -> frozenset[str]:
        async with self._pipes.talking():
            ids = await self._pipes.client.hkeys(self.keys.events(order_id))
        return frozenset(text(i) for i in ids)

    async def duplicates(self, order_id: str) -> dict[str, int]:
        async with self._pipes.talking():
            counts = await self._pipes.client.hgetall(self.keys.dups(order_id))
        return {text(k): int(v) for k, v in counts.items()}

    async def order_for_lookup(
        self, order_number: str, email: str | None = None, postcode: str | None = None
    ) -> str | None:
        tokens = query_tokens(email, postcode)
        if not tokens:
            return None
        keys = [self.keys.lookup(lookup_key(order_number, t)) for t in tokens]

        def build(pipe: Any) -> None:
            # GET each: the keys lie in different cluster slots, where MGET would refuse
            for key in keys:
                pipe.get(key)

        found = await self._pipes.execute(build)
        for raw in dict.fromkeys(o for o in found if o is not None):
            document = await self.timeline(text(raw))
            if document and document_matches(orjson.loads(document), order_number, tokens):
                return text(raw)
        return None
