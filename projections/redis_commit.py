"""Preparing an order's commit to Redis without Redis: the fold, the timeline JSON, the change,
the customer lookup keys, the agent index entries and the commit script's arguments.

Pure, so a process pool can prepare the commits of a bulk rebuild (:func:`prepare_new_order`).
The script itself and the I/O are in :mod:`projections.redis_writer`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from projections.agent_index import index_entries
from projections.fold_fingerprint import fold_fingerprint
from projections.links import named_numbers
from projections.lookup import document_tokens, lookup_key, timeline_tokens
from projections.merge import OrderMerge, merge, with_order
from projections.redis_keys import RedisKeys
from projections.serialize import queue_source, timeline_to_json
from projections.snapshots import OrderSource, covers, stored_copies
from projections.snapshots import named_numbers as snap_numbers
from projections.store import TimelineChange
from projections.timeline import OrderFold
from wismo.events import Event, dump_event, parse_event


def sha(document: bytes) -> bytes:
    return hashlib.blake2b(document, digest_size=16).hexdigest().encode()


@dataclass(slots=True)
class OrderState:
    """What Redis holds for an order (``rev`` b"0": nothing), as read or as last written."""

    rev: bytes = b"0"
    sha: bytes = b""
    lookups: bytes = b""
    index: bytes = b""
    """Digest of the agent index entries last written for the order."""
    events: dict[str, Event] = field(default_factory=dict)
    fold: OrderFold | None = None
    """The fold of ``events``, kept so the next events of a live order continue it."""


@dataclass(slots=True)
class IndexWrite:
    """The agent index entries of a committed timeline, written after its commit
    (:mod:`projections.redis_writer`): set members first, then the exception rows, then ``ix``."""

    sets: list[str]
    """The order number and e-mail hash sets that list the order."""
    rows: list[Any]
    """Flat (exception id, row JSON, resolved epoch or "") triples."""
    summary: bytes
    """The change summary, published with the rows that changed when there are rows."""
    digest: bytes
    """The entries' digest, stored as the state's ``ix`` once they are written."""


@dataclass(slots=True)
class PreparedCommit:
    """Everything a commit of one order needs, computed without Redis (so in any process)."""

    order_id: str
    keys: list[str]
    """The commit script's keys (see :data:`projections.redis_writer.COMMIT`)."""
    args: list[Any]
    change: TimelineChange | None
    after: OrderState
    lookup_keys: list[str]
    tracking_numbers: list[str]
    events: int
    """Distinct events the commit adds."""
    index: IndexWrite | None = None
    """Index entries that changed (none: the index already holds the timeline's)."""


@dataclass(frozen=True, slots=True)
class _Folded:
    """What a commit reads of the timeline it writes, from the fold or from a snapshot."""

    document: bytes
    version: int
    digest: str
    status: str
    number: str | None
    email: str | None
    tokens: Callable[[], list[str]]
    """The customer lookup tokens (computed only when the timeline changed)."""
    queue: Callable[[], dict[str, Any] | None]
    """What the exception queue reads of it (None: no exceptions)."""


def prepare_commit(keys: RedisKeys, plan: OrderMerge, before: OrderState) -> PreparedCommit:
    """Fold the order as it will be after ``plan`` and build the commit script's arguments.

    ``lookup_keys`` are the customer lookup keys to (re)write: empty when they did not change.
    """
    order_id = plan.order_id
    merged = {**plan.stored, **plan.writes}
    folded = _continued(before.fold, plan) or OrderFold.of(merged.values(), order_id)
    timeline = folded.timeline
    view = _Folded(
        timeline_to_json(timeline),
        timeline.version,
        timeline.digest,
        timeline.status.value,
        timeline.order_number,
        timeline.customer_email_sha256,
        lambda: timeline_tokens(timeline),
        lambda: queue_source(timeline) if timeline.exceptions else None,
    )
    after = OrderState(before.rev, sha(view.document), before.lookups, before.index, merged, folded)
    writes = [x for event_id, e in plan.writes.items() for x in (event_id, dump_event(e))]
    changed = bool(plan.new_ids) or after.sha != before.sha
    numbers = named_numbers(plan.writes.values())
    return _commit(
        keys,
        order_id,
        view,
        (before, after, changed),
        (plan.duplicates, writes, numbers, len(plan.new_ids)),
    )


def _commit(
    keys: RedisKeys,
    order_id: str,
    view: _Folded,
    states: tuple[OrderState, OrderState, bool],
    events: tuple[Mapping[str, int], list[Any], list[str], int],
) -> PreparedCommit:
    """The commit script's arguments, the change and the index entries of a timeline.

    ``states``: the order's state before and after, and whether the timeline changed;
    ``events``: duplicates per event id, the (event id, JSON) pairs to store, the tracking
    numbers the stored events name, and how many of them are new to the order.
    """
    before, after, changed = states
    duplicates, writes, numbers, new = events
    change: TimelineChange | None = None
    lookup_keys: list[str] = []
    number, email = view.number, view.email
    index: IndexWrite | None = None
    head: list[Any]
    if changed:
        change = TimelineChange(
            order_id, view.version, view.digest, view.status, view.document, fold_fingerprint()
        )
        summary = orjson.dumps(
            {
                "order_id": order_id,
                "version": view.version,
                "digest": view.digest,
                "status": view.status,
            }
        )
        lookup_keys = sorted(lookup_key(number, t) for t in view.tokens()) if number else []
        after.lookups = sha("\n".join(lookup_keys).encode()) if lookup_keys else b""
        if after.lookups == before.lookups:
            lookup_keys = []
        entries = index_entries(number, email, view.queue())
        after.index = sha(
            b"\x1f".join(
                [
                    (number or "").encode(),
                    (email or "").encode(),
                    *(row for _, row, _ in entries.rows),
                ]
            )
        )
        if after.index != before.index:  # else the index already holds these entries
            sets = [keys.index_number(number)] if number else []
            sets += [keys.index_email(email)] if email else []
            rows = [x for row in entries.rows for x in row]
            index = IndexWrite(sets, rows, summary, after.index)
        head = [
            before.rev, view.document, view.version, view.digest, view.status, after.sha,
            after.lookups if lookup_keys else b"",
            keys.order_channel(order_id), keys.agents_channel,
            b"" if index is not None and index.rows else summary,
        ]  # fmt: skip
    else:
        head = [before.rev, b"", 0, "", "", "", b"", "", "", b""]
    dups = [x for event_id, n in duplicates.items() for x in (event_id, n)]
    return PreparedCommit(
        order_id,
        [keys.events(order_id), keys.state(order_id), keys.dups(order_id)],
        [*head, len(duplicates), *dups, *writes],
        change,
        after,
        lookup_keys,
        numbers,
        new,
        index,
    )


def _continued(folded: OrderFold | None, plan: OrderMerge) -> OrderFold | None:
    """``folded`` continued with the plan's events, when they are all new and continue it.

    The cached fold is extended in place: a caller whose commit then fails drops the cache.
    """
    if folded is None or not plan.writes or not plan.writes.keys().isdisjoint(plan.stored):
        return None
    return folded if folded.extend(plan.writes.values()) else None


def prepare_from_snapshot(prefix: str, source: OrderSource) -> PreparedCommit | None:
    """The commit that creates an order from its snapshot instead of a refold: the events as
    logged, the snapshot's document (None: the snapshot does not cover the logged events, see
    :func:`projections.snapshots.covers`). Like :func:`prepare_new_order`, for an order Redis
    does not hold."""
    snapshot = source.snapshot
    if snapshot is None or not covers(source):
        return None
    document = snapshot.document
    decoded: dict[str, Any] = orjson.loads(document)
    view = _Folded(
        document,
        snapshot.version,
        snapshot.digest,
        snapshot.status,
        decoded.get("order_number"),
        decoded.get("customer_email_sha256"),
        lambda: document_tokens(decoded),
        lambda: decoded if decoded.get("exceptions") else None,
    )
    kept, duplicates = stored_copies(source)
    writes = [x for item in kept.items() for x in item]
    after = OrderState(sha=sha(document))
    states = (OrderState(), after, True)
    events = (duplicates, writes, snap_numbers(source), len(kept))
    return _commit(RedisKeys(prefix), source.order_id, view, states, events)


def prepare_new_order(
    prefix: str, order_id: str, documents: Sequence[str | bytes]
) -> PreparedCommit:
    """The commit that creates an order from its logged events (a bulk rebuild's unit of work).

    Pure and picklable in and out, so a process pool can run it; the result carries no events.
    """
    events = [with_order(parse_event(document), order_id) for document in documents]
    prepared = prepare_commit(RedisKeys(prefix), merge(order_id, {}, events), OrderState())
    prepared.after.events, prepared.after.fold = {}, None
    return prepared
