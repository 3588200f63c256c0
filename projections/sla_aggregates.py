"""The shipment KPI sections (delivery, exceptions, returns, dwell) from kept aggregates.

The plain SQL of :mod:`projections.sla` reads every shipment fact with ``FINAL`` on every report.
Here the same KPIs come from aggregate states kept per **bucket** of orders
(``cityHash64(order_id) % BUCKETS``) and per day and grouping, so a report merges a few thousand
rows instead of scanning and deduplicating every fact. The states are exact: counts and sums as
such, the values a percentile ranks as arrays (``quantilesExactInclusiveArray`` over them is
``quantilesExactInclusive`` over the facts), distinct orders as arrays of SipHash-128 of their ids
(what ``uniqExact`` counts; no id is kept); the definitions (docs/kpis.md) do not change. Plain
arrays rather than ``AggregateFunction`` states, so any client can read every table.

Why buckets, and why this stays correct under duplicates and late versions: the facts table is
``ReplacingMergeTree(version)``, so a materialized view over it sees every version ever inserted,
older ones after newer ones too, and a version may move its shipment to another cohort day (the
order date arrives after the shipment). States cannot subtract a superseded version. So a
bucket's states are never updated in place: they are **recomputed from ``shipments FINAL``**
(the definitional read) for the whole bucket, under a new generation, whenever the bucket is
dirty. An order's every version lands in the same bucket, so a recomputed bucket is exactly the
plain SQL restricted to its orders, and buckets partition the orders, so merging the buckets'
states is exactly the plain SQL.

A bucket is dirty when, since its current generation was computed:

- a fact row of one of its orders was inserted (a materialized view on ``shipments`` writes the
  bucket and the insert time to ``sla_dirty``; it runs after the row's part is committed, so a
  refresh that began before the mark read without the row and is superseded);
- rows were deleted from ``shipments`` (a mutation such as an erasure: every bucket);
- the generation is older than ``max_age_s`` (rows a retention TTL removed in a merge).

:func:`refresh` recomputes the dirty buckets (``FINAL`` reads restricted to them) and records
their generation; the report reads only each bucket's current generation. The facts are sorted by
order id, not by bucket, so a refresh still reads every order id, and merges and aggregates the
dirty buckets' rows only: one bucket of eight costs about a third of a refresh of all, and more
than the plain SQL of one section. So a report (:func:`up_to_date`) refreshes at most every
``REFRESH_EVERY_S`` and otherwise, while a bucket is dirty, runs the plain SQL.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projections.sla import DIMENSIONS, SlaQuery

log = logging.getLogger(__name__)

BUCKETS = 8
#: the sections this module answers
AGGREGATED_SECTIONS = ("delivery", "exceptions", "returns", "dwell")
#: a refresh counts as covering the writes made up to this long before it began
MARGIN_S = 1.0
#: generations older than this are recomputed (retention TTLs remove rows in merges, unseen)
MAX_AGE_S = 3600.0
#: a report recomputes dirty buckets at most this often; in between, the plain SQL answers
REFRESH_EVERY_S = 10.0

_ANCHOR = "ifNull(s.placed_at, s.shipped_at)"
_BUCKET = f"cityHash64(s.order_id) % {BUCKETS}"
_DELIVERED = "s.delivered_at IS NOT NULL"


def _hours(start: str, end: str) -> str:
    return f"(toUnixTimestamp64Milli({end}) - toUnixTimestamp64Milli({start})) / 3600000"


#: the groupings kept on the delivery and exception states (``week`` and ``day`` come from the day)
_KEPT = ("carrier", "service", "channel", "lane")
_ROLLUP_DIMENSIONS = {
    "carrier": "r.carrier",
    "service": "r.service",
    "lane": "r.lane",
    "channel": "r.channel",
    "week": "toMonday(r.day)",
    "day": "r.day",
}

#: rate KPI → (what hits, what is considered), as in projections.sla.DELIVERY_KPIS
_RATES = {
    "on_time_vs_promise": (
        "toDate(s.delivered_at) <= s.promised_date",
        f"{_DELIVERED} AND s.promised_date IS NOT NULL",
    ),
    "on_time_vs_first_edd": (
        "toDate(s.delivered_at) <= s.carrier_edd_first",
        f"{_DELIVERED} AND s.carrier_edd_first IS NOT NULL",
    ),
    "shipped_by_ship_by": (
        "s.shipped_at <= s.ship_by",
        "s.shipped_at IS NOT NULL AND s.ship_by IS NOT NULL",
    ),
    "first_attempt_success": (
        f"{_DELIVERED} AND s.failed_attempts = 0",
        "s.first_attempt_at IS NOT NULL",
    ),
    "edd_exact_first": (
        "toDate(s.delivered_at) = s.carrier_edd_first",
        f"{_DELIVERED} AND s.carrier_edd_first IS NOT NULL",
    ),
    "edd_revised_rate": ("s.edd_revisions > 0", "s.carrier_edd_first IS NOT NULL"),
}
#: percentile KPI → (hours from, hours to, condition)
_HOURS = {
    "click_to_door_h": (
        "s.placed_at",
        "s.delivered_at",
        f"{_DELIVERED} AND s.placed_at IS NOT NULL",
    ),
    "ship_to_door_h": (
        "s.first_scan_at",
        "s.delivered_at",
        f"{_DELIVERED} AND s.first_scan_at IS NOT NULL",
    ),
    "time_to_ship_h": (
        "s.placed_at",
        "s.shipped_at",
        "s.shipped_at IS NOT NULL AND s.placed_at IS NOT NULL",
    ),
}
_P3 = "0.5, 0.9, 0.99"
_DRIFT_WHEN = "s.carrier_edd_first IS NOT NULL AND s.carrier_edd_last IS NOT NULL"
_FIRST = "s.first_of_order = 1"


def _delivery_states() -> list[str]:
    states = ["count() AS shipments", f"countIf({_DELIVERED}) AS delivered"]
    for name, (hits, considered) in _RATES.items():
        states.append(f"countIf({hits} AND {considered}) AS {name}_hits")
        states.append(f"countIf({considered}) AS {name}_of")
    for name, (start, end, when) in _HOURS.items():
        value = f"ifNull({_hours(start, end)}, 0)"
        states.append(f"groupArrayIf({value}, {when}) AS {name}")
    states += [
        "countIf(s.exceptions_total > 0) AS excepted",
        "sumIf(toInt64(ifNull(dateDiff('day', s.carrier_edd_first, s.carrier_edd_last), 0)), "
        f"{_DRIFT_WHEN}) AS drift_days",
        f"countIf({_DRIFT_WHEN}) AS drift_of",
        f"countIf({_FIRST}) AS first_orders",
        f"countIf({_FIRST} AND s.order_delivered = 1) AS delivered_orders",
        f"countIf({_FIRST} AND s.order_returned = 1) AS returned_orders",
        f"groupArrayArrayIf(s.refund_waits_h, {_FIRST}) AS refund_waits",
    ]
    return states


def _kept_dimensions() -> str:
    return "".join(f"{DIMENSIONS[name]} AS {name}, " for name in _KEPT)


_KEYS = "bucket, day, " + ", ".join(_KEPT)
#: the buckets are picked before FINAL merges the versions: the bucket is a function of the order
#: id, a sorting-key column all versions of a row share, so a whole key is kept or dropped
_PICK = f"PREWHERE {_BUCKET} IN {{buckets:Array(UInt16)}}"
_SOURCE = f"FROM {{db}}.shipments AS s FINAL\n{_PICK}\nWHERE {_ANCHOR} IS NOT NULL"
_HEAD = f"SELECT toUInt16({_BUCKET}) AS bucket, {{gen:UInt64}} AS gen, "

#: recompute each table's states for some buckets under a new generation
REFRESH_SQL = {
    "sla_rollup": (
        f"INSERT INTO {{db}}.sla_rollup\n{_HEAD}toDate(assumeNotNull({_ANCHOR})) AS day, "
        f"{_kept_dimensions()}\n    " + ",\n    ".join(_delivery_states()) + f"\n{_SOURCE}\n"
        f"GROUP BY {_KEYS}"
    ),
    "sla_rollup_exceptions": (
        f"INSERT INTO {{db}}.sla_rollup_exceptions\n{_HEAD}"
        f"toDate(assumeNotNull({_ANCHOR})) AS day, {_kept_dimensions()}type, reason,\n"
        "    count() AS exceptions,\n"
        "    groupUniqArray(reinterpretAsUInt128(sipHash128(s.order_id))) AS orders\n"
        "FROM {db}.shipments AS s FINAL\n"
        "ARRAY JOIN s.exception_types AS type, s.exception_reasons AS reason\n"
        f"{_PICK}\nWHERE {_ANCHOR} IS NOT NULL\n"
        f"GROUP BY {_KEYS}, type, reason"
    ),
    "sla_rollup_dwell": (
        f"INSERT INTO {{db}}.sla_rollup_dwell\n{_HEAD}toDate(arrived) AS day, "
        "s.carrier AS carrier, facility, count() AS stays,\n"
        f"    groupArray({_hours('arrived', 'departed')}) AS dwell_h\n"
        "FROM {db}.shipments AS s FINAL\n"
        "ARRAY JOIN s.stay_places AS facility, s.stay_arrived AS arrived, "
        "s.stay_departed AS departed\n"
        f"{_PICK}\n"
        "GROUP BY bucket, day, carrier, facility"
    ),
}

_CURRENT = (
    "(r.bucket, r.gen) IN (SELECT bucket, max(gen) FROM {db}.sla_rollup_buckets GROUP BY bucket)"
)
_PERIOD = "r.day >= {start:Date} AND r.day < {end:Date}"


def _rate(name: str) -> str:
    return f"sum(r.{name}_hits) / nullIf(sum(r.{name}_of), 0)"


def _quantiles(name: str) -> str:
    return f"quantilesExactInclusiveArray({_P3})(r.{name})"


#: KPI → how it is merged from the kept states, in the order of projections.sla.DELIVERY_KPIS
_DELIVERY_MERGES = {
    "shipments": "sum(r.shipments)",
    "delivered": "sum(r.delivered)",
    "on_time_vs_promise": _rate("on_time_vs_promise"),
    "on_time_vs_first_edd": _rate("on_time_vs_first_edd"),
    "click_to_door_h": _quantiles("click_to_door_h"),
    "ship_to_door_h": _quantiles("ship_to_door_h"),
    "time_to_ship_h": _quantiles("time_to_ship_h"),
    "shipped_by_ship_by": _rate("shipped_by_ship_by"),
    "first_attempt_success": _rate("first_attempt_success"),
    "exception_rate": "sum(r.excepted) / sum(r.shipments)",
    "edd_exact_first": _rate("edd_exact_first"),
    "edd_revised_rate": _rate("edd_revised_rate"),
    "edd_drift_days": "sum(r.drift_days) / nullIf(sum(r.drift_of), 0)",
}


def _dims(query: SlaQuery) -> tuple[str, str]:
    select = "".join(f"{_ROLLUP_DIMENSIONS[name]} AS {name}, " for name in query.by)
    return select, ", ".join(query.by)


def _grouped(group: str, extra: Sequence[str] = ()) -> str:
    keys = [*([group] if group else []), *extra]
    joined = ", ".join(keys)
    return f"GROUP BY {joined} ORDER BY {joined}" if keys else ""


def delivery_sql(query: SlaQuery) -> str:
    select, group = _dims(query)
    kpis = ",\n    ".join(f"{sql} AS {name}" for name, sql in _DELIVERY_MERGES.items())
    return (
        f"SELECT {select}\n    {kpis}\nFROM {{db}}.sla_rollup AS r\n"
        f"WHERE {_CURRENT} AND {_PERIOD}\n{_grouped(group)}"
    )


def exceptions_sql(query: SlaQuery) -> str:
    select, group = _dims(query)
    return (
        f"SELECT {select}r.type AS type, r.reason AS reason, sum(r.exceptions) AS exceptions, "
        "uniqExactArray(r.orders) AS orders\n"
        "FROM {db}.sla_rollup_exceptions AS r\n"
        f"WHERE {_CURRENT} AND {_PERIOD}\n{_grouped(group, ['type', 'reason'])}"
    )


def returns_sql(query: SlaQuery) -> str:
    select, group = _dims(query)
    return (
        f"SELECT {select}sum(r.delivered_orders) AS delivered_orders,\n"
        "    sum(r.returned_orders) AS returned_orders,\n"
        "    returned_orders / nullIf(delivered_orders, 0) AS return_rate,\n"
        "    quantilesExactInclusiveArray(0.5, 0.9)(r.refund_waits) AS return_to_refund_h\n"
        "FROM {db}.sla_rollup AS r\n"
        f"WHERE r.first_orders > 0 AND {_CURRENT} AND {_PERIOD}\n{_grouped(group)}"
    )


def dwell_sql(query: SlaQuery) -> str:
    return (
        "SELECT r.carrier AS carrier, r.facility AS facility, sum(r.stays) AS stays,\n"
        "    quantilesExactInclusiveArray(0.5, 0.9)(r.dwell_h) AS dwell_h\n"
        "FROM {db}.sla_rollup_dwell AS r\n"
        f"WHERE {_CURRENT} AND {_PERIOD}\n"
        "GROUP BY carrier, facility ORDER BY carrier, facility"
    )


def section_sql(query: SlaQuery, section: str) -> str:
    """The SQL that answers ``section`` from the kept states."""
    return {
        "delivery": delivery_sql,
        "exceptions": exceptions_sql,
        "returns": returns_sql,
        "dwell": dwell_sql,
    }[section](query)


#: per bucket: what its current generation covers and when it was last written to; beside it
#: the time, when rows were last deleted from the facts (a part a mutation rewrote is newer than
#: its blocks) and whether a mutation is still running
_STATE = f"""SELECT toUInt16(number) AS bucket,
    toUnixTimestamp64Milli(g.covered) AS covered_ms,
    toUnixTimestamp64Milli(d.marked) AS marked_ms,
    (SELECT toUnixTimestamp(max(modification_time)) * 1000 FROM system.parts
     WHERE database = {{name:String}} AND table = 'shipments' AND active
       AND data_version > max_block_number) AS rewritten_ms,
    (SELECT count() FROM system.mutations
     WHERE database = {{name:String}} AND table = 'shipments' AND NOT is_done) AS running,
    toUnixTimestamp64Milli(now64(3)) AS now_ms,
    toUnixTimestamp64Micro(now64(6)) AS now_us
FROM numbers({BUCKETS}) AS n
LEFT JOIN (SELECT bucket, argMax(covered, gen) AS covered FROM {{db}}.sla_rollup_buckets
           GROUP BY bucket) AS g ON g.bucket = n.number
LEFT JOIN (SELECT bucket, max(at) AS marked FROM {{db}}.sla_dirty GROUP BY bucket) AS d
    ON d.bucket = n.number
SETTINGS join_use_nulls = 1"""


@dataclass(frozen=True, slots=True)
class Refresh:
    """What :func:`refresh` recomputed."""

    buckets: tuple[int, ...]
    generation: int | None


@dataclass(frozen=True, slots=True)
class Dirty:
    """The buckets whose kept states may differ from ``shipments FINAL``, and the time they were
    found (ClickHouse's clock)."""

    buckets: list[int]
    now_ms: int
    now_us: int
    #: when the latest refresh began (0: never)
    refreshed_ms: int


def dirty_buckets(client: Any, database: str, *, max_age_s: float = MAX_AGE_S) -> Dirty:
    """The buckets to recompute now (one query)."""
    sql = _STATE.replace("{db}", database)
    rows = client.query(sql, parameters={"name": database}).result_rows
    now_ms, now_us = int(rows[0][5]), int(rows[0][6])
    dirty, refreshed_ms = [], 0
    for bucket, covered_ms, marked_ms, rewritten_ms, running, _, _ in rows:
        refreshed_ms = max(refreshed_ms, covered_ms or 0)
        mutated_ms = now_ms if running else int(rewritten_ms or 0)
        if covered_ms is None:
            stale = marked_ms is not None
        else:
            stale = (
                (marked_ms is not None and marked_ms > covered_ms)
                or mutated_ms + 1000 >= covered_ms
                or covered_ms < now_ms - max_age_s * 1000
            )
        if stale:
            dirty.append(int(bucket))
    return Dirty(dirty, now_ms, now_us, refreshed_ms)


def up_to_date(client: Any, database: str, *, every_s: float = REFRESH_EVERY_S) -> bool:
    """Whether the kept aggregates answer a report now: no bucket is dirty, or none was
    recomputed in the last ``every_s`` and the dirty ones are now (blocking).

    A refresh costs more than a plain read of the facts, so under steady writes a report pays it
    at most every ``every_s``; the reports in between run the plain SQL.
    """
    dirty = dirty_buckets(client, database)
    if not dirty.buckets:
        return True
    if dirty.refreshed_ms + (every_s + MARGIN_S) * 1000 > dirty.now_ms:
        return False
    try:
        _recompute(client, database, dirty, MARGIN_S)
    except Exception as error:  # e.g. a read-only ClickHouse user: the plain SQL answers
        log.warning("the kept SLA aggregates were not refreshed (%s); plain SQL answers", error)
        return False
    return True


def refresh(
    client: Any, database: str, *, margin_s: float = MARGIN_S, max_age_s: float = MAX_AGE_S
) -> Refresh:
    """Recompute the dirty buckets' states from ``shipments FINAL`` (blocking)."""
    return _recompute(
        client, database, dirty_buckets(client, database, max_age_s=max_age_s), margin_s
    )


def _recompute(client: Any, database: str, dirty: Dirty, margin_s: float) -> Refresh:
    buckets = dirty.buckets
    if not buckets:
        return Refresh((), None)
    # a generation later than any earlier refresh's, and apart from a concurrent one's
    generation = dirty.now_us * 1000 + secrets.randbelow(1000)
    parameters = {"buckets": buckets, "gen": generation}
    for sql in REFRESH_SQL.values():
        client.command(sql.replace("{db}", database), parameters=parameters)
    covered_ms = dirty.now_ms - round(margin_s * 1000)
    client.command(
        f"INSERT INTO {database}.sla_rollup_buckets (bucket, gen, covered) "
        "SELECT arrayJoin({buckets:Array(UInt16)}), {gen:UInt64}, "
        "fromUnixTimestamp64Milli({covered:Int64}, 'UTC')",
        parameters={**parameters, "covered": covered_ms},
    )
    return Refresh(tuple(buckets), generation)
