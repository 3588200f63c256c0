"""The Redis half of an erasure (:mod:`projections.erasure`): drop an order and everything that
points at it, then write it again from its anonymised events.

Removed: the order's own keys (events, state, duplicate counts, retention mark), the customer's
photos of it (those the order lists and those its reports name), its customer lookup keys, its
agent index entries (number and e-mail-hash set members, exception rows), its retention record;
scans still parked under its tracking numbers are anonymised in place. The order is then created
afresh (:meth:`~projections.redis_writer.TimelineWriter.create` with
``replace``), which writes its index entries again from the anonymised timeline and publishes
it, so API processes drop cached views. A writer that still caches the order finds its ``rev``
changed and reads it again before its next commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from projections.anonymise import anonymise
from projections.redis_commit import prepare_new_order
from projections.redis_pipes import RedisPipes, text
from projections.redis_store import RedisTimelineStore
from projections.retention import (
    document_tracking_numbers,
    exception_ids,
    order_keys,
    pointer_keys,
    set_keys,
)

if TYPE_CHECKING:
    from projections.erasure import OrderErasure


def _entries(store: RedisTimelineStore, order_id: str, before: Sequence[bytes]) -> dict[str, Any]:
    keys = store.keys
    documents = [orjson.loads(document) for document in before]
    lookup = keys.lookup("")
    return {
        "keys": [*order_keys(keys, order_id), keys.retained(order_id)]
        + [k for d in documents for k in pointer_keys(keys, d) if k.startswith(lookup)],
        "sets": sorted({k for d in documents for k in set_keys(keys, d)}),
        "exceptions": sorted({i for d in documents for i in exception_ids(d)}),
        "numbers": sorted({n for d in documents for n in document_tracking_numbers(d)}),
        "photos": sorted({ref for d in documents for ref in _attached(d)}),
    }


def _attached(document: Mapping[str, Any]) -> list[str]:
    """The photo refs a timeline's customer reports name."""
    exceptions = document.get("exceptions") or ()
    return [str(e["attachment"]["ref"]) for e in exceptions if e.get("attachment")]


async def _photo_keys(store: RedisTimelineStore, order_id: str, named: list[str]) -> list[str]:
    """The keys of the order's photos: its list, and each photo it lists or its reports name."""
    keys = store.keys
    listed = await store.client.hvals(keys.photos(order_id))
    refs = sorted({*named, *(text(ref) for ref in listed or ())})
    return [keys.photos(order_id), *(keys.photo(ref) for ref in refs)]


async def _remove(
    pipes: RedisPipes, store: RedisTimelineStore, order_id: str, found: dict[str, Any]
) -> tuple[int, dict[str, dict[str, bytes]]]:
    keys = store.keys

    def build(pipe: Any) -> None:
        for key in found["keys"]:  # one by one: on a Redis Cluster they lie on several slots
            pipe.delete(key)
        for key in found["sets"]:
            pipe.srem(key, order_id)
        if found["exceptions"]:
            pipe.hdel(keys.index_exceptions, *found["exceptions"])
            pipe.zrem(keys.index_resolved, *found["exceptions"])
        pipe.zrem(keys.retention_due, order_id)
        pipe.hdel(keys.retention_orders, order_id)
        for number in found["numbers"]:
            pipe.hgetall(keys.parked(number))

    replies = await pipes.execute(build)
    parked = replies[len(replies) - len(found["numbers"]) :]
    counted = replies[: len(replies) - len(found["numbers"])]
    held = {
        n: {text(k): v for k, v in (r or {}).items()}
        for n, r in zip(found["numbers"], parked, strict=True)
    }
    return sum(int(n) for n in counted), {n: scans for n, scans in held.items() if scans}


async def _anonymise_parked(
    pipes: RedisPipes,
    store: RedisTimelineStore,
    parked: Mapping[str, Mapping[str, bytes]],
    values: Sequence[str],
) -> None:
    def build(pipe: Any) -> None:
        for number, scans in parked.items():
            for event_id, raw in scans.items():
                scrubbed = anonymise(orjson.loads(raw), values, {})
                pipe.hset(store.keys.parked(number), event_id, orjson.dumps(scrubbed))

    await pipes.execute(build)


async def erase_from_redis(
    store: RedisTimelineStore,
    plans: Sequence[OrderErasure],
    before: Mapping[str, Sequence[bytes]],
    values: Sequence[str],
) -> int:
    """Drop and rewrite each planned order; returns the keys and index entries removed."""
    pipes = RedisPipes(store.client, "redis")
    removed = 0
    for plan in plans:
        found = _entries(store, plan.order_id, before.get(plan.order_id, ()))
        found["keys"] += await _photo_keys(store, plan.order_id, found.pop("photos"))
        count, parked = await _remove(pipes, store, plan.order_id, found)
        removed += count
        if parked:
            await _anonymise_parked(pipes, store, parked, values)
        store.writer.forget(plan.order_id)
        prepared = prepare_new_order(store.keys.prefix, plan.order_id, plan.documents)
        await store.create([prepared], replace=True)
    return removed
