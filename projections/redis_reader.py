"""Reading timelines from Redis: an order's timeline, events and duplicate counts, several
orders' current state in one round trip, and the customer lookup.

An order flagged ``partial`` (written after it had expired, :mod:`projections.retention`) reads as
absent, like an expired one, until it is re-read from the log (:mod:`projections.restore`)."""

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
            document, partial = await self._pipes.client.hmget(
                self.keys.state(order_id), "json", "partial"
            )
        return None if document is None or partial else as_bytes(document)

    async def expired(self, order_id: str) -> bool:
        """Whether the order went on the retention clock and Redis no longer holds all of it."""

        def build(pipe: Any) -> None:
            pipe.exists(self.keys.retained(order_id))
            pipe.hmget(self.keys.state(order_id), "json", "partial")

        mark, (document, partial) = await self._pipes.execute(build)
        return bool(mark) and (document is None or partial is not None)

    async def current(self, order_ids: Sequence[str]) -> list[TimelineChange]:
        fields = ("json", "version", "digest", "status", "partial")

        def build(pipe: Any) -> None:
            for order_id in order_ids:
                pipe.hmget(self.keys.state(order_id), *fields)

        replies = await self._pipes.execute(build) if order_ids else []
        return [
            TimelineChange(order_id, int(version), text(digest), text(status), as_bytes(document))
            for order_id, (document, version, digest, status, partial) in zip(
                order_ids, replies, strict=True
            )
            if document is not None and partial is None
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
