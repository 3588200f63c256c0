"""How long an order stays in Redis: its expiry record (pure; the Redis side is in the writer).

An order whose timeline reaches a final state (:data:`FINAL_STATUSES`) is kept in Redis for the
configured time after that commit (``retention.redis_days``), then its keys expire. The commit
script (:data:`projections.redis_writer.COMMIT`) sets the expiry on the order's own keys; the
writer then expires the string keys that point at it (customer lookup keys, tracking-number
links) and files the order's *expiry record* under ``P:{retention}:orders`` with its due time in
``P:{retention}:due`` (:mod:`projections.redis_retention`). Index entries that cannot carry a TTL
of their own (members of the agent index's number and e-mail sets, exception rows) are removed by
later batches, up to :data:`SWEEP_BATCH` due orders each, once the order's state is gone. A commit
that takes the order out of a final state again clears all of that.

The record holds key names and ids only, never personal data in clear (the e-mail set's key names
a SHA-256, as the index itself does).

``P:{ORDER}:retained`` marks an order that went on the clock: a commit that finds no state but the
mark (an event for an order that already expired) writes what it has and flags the state
``partial``; readers treat a partial order like an expired one and re-read it from ClickHouse
(:mod:`projections.restore`), which merges the log's events with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from projections.lookup import document_tokens, lookup_key
from projections.redis_keys import RedisKeys
from wismo.vocab import OrderStatus

#: statuses after which an order is not expected to change, and starts its retention clock
FINAL_STATUSES = frozenset(
    {OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED, OrderStatus.REFUNDED}
)
#: due orders whose index entries one commit removes
SWEEP_BATCH = 20
#: how much longer than the timeline the ``retained`` mark lives
MARK_EXTRA_S = 365 * 86400


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES


def document_tracking_numbers(document: Mapping[str, Any]) -> list[str]:
    """The tracking numbers a timeline's shipments, packages and returns name, once each."""
    numbers: list[str | None] = []
    for shipment in document.get("shipments") or ():
        numbers.append(shipment.get("tracking_number"))
        numbers += [p.get("tracking_number") for p in shipment.get("packages") or ()]
    numbers += [r.get("tracking_number") for r in document.get("returns") or ()]
    return list(dict.fromkeys(n for n in numbers if n))


def order_keys(keys: RedisKeys, order_id: str) -> list[str]:
    """The keys holding the order itself."""
    return [keys.events(order_id), keys.state(order_id), keys.dups(order_id)]


def pointer_keys(keys: RedisKeys, document: Mapping[str, Any]) -> list[str]:
    """String keys whose value is the order's id: lookup keys and tracking-number links."""
    number = document.get("order_number")
    found = [keys.lookup(lookup_key(number, t)) for t in document_tokens(document) if number]
    found += [keys.tracking(n) for n in document_tracking_numbers(document)]
    return found


def set_keys(keys: RedisKeys, document: Mapping[str, Any]) -> list[str]:
    """The agent index sets that list the order."""
    number, email = document.get("order_number"), document.get("customer_email_sha256")
    return [
        *([keys.index_number(number)] if number else []),
        *([keys.index_email(email)] if email else []),
    ]


def exception_ids(document: Mapping[str, Any]) -> list[str]:
    exceptions = document.get("exceptions") or ()
    return [str(e["exception_id"]) for e in exceptions if e.get("exception_id")]


def expiry_record(keys: RedisKeys, order_id: str, document: bytes) -> bytes:
    """What the commit script expires now and the sweep removes later (see the module doc)."""
    parsed = orjson.loads(document)
    return orjson.dumps(
        {
            "state": keys.state(order_id),
            "expire": pointer_keys(keys, parsed),
            "sets": set_keys(keys, parsed),
            "exceptions": exception_ids(parsed),
            "index": [keys.index_exceptions, keys.index_resolved],
        }
    )


def record_for(keys: RedisKeys, order_id: str, status: str, document: bytes, keep_s: int) -> bytes:
    """The commit's expiry record: empty unless the timeline is final and retention is on."""
    if keep_s <= 0 or not is_final(status):
        return b""
    return expiry_record(keys, order_id, document)


def all_keys(keys: RedisKeys, order_id: str, documents: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every key of an order and the strings pointing at it (for erasure)."""
    found = [*order_keys(keys, order_id), keys.retained(order_id)]
    for document in documents:
        found += pointer_keys(keys, document)
    return list(dict.fromkeys(found))
