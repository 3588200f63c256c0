"""Delivery SLA KPIs as plain ClickHouse SQL (definitions: docs/kpis.md, version 1).

Every KPI is computed from fact tables read with ``FINAL`` (one row per shipment, exception,
checkpoint or return event, whatever was inserted twice or late) and can be grouped by any of
:data:`DIMENSIONS`. A shipment belongs to the period of its order's ``placed_at`` (its
``shipped_at`` when the order date is unknown): late facts only ever update their own cohort.

The SQL is built here from fixed fragments (dimension names are checked against a closed list;
dates are bound parameters), so analysts can copy it from ``wismo sla --sql``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from projections.errors import StoreError
from projections.sla_agents import AGENT_SECTIONS
from projections.sla_notifications import NOTIFICATION_SECTIONS

KPI_VERSION = 1

_ANCHOR = "ifNull(s.placed_at, s.shipped_at)"


def _place(prefix: str) -> str:
    return (
        f"concat(if(s.{prefix}_country = '', '?', s.{prefix}_country), "
        f"if(s.{prefix}_region = '', '', concat('-', s.{prefix}_region)))"
    )


#: Grouping name → SQL expression over the shipments facts (alias ``s``).
DIMENSIONS: dict[str, str] = {
    "carrier": "s.carrier",
    "service": "s.service",
    "lane": f"concat({_place('origin')}, ' > ', {_place('destination')})",
    "channel": "s.channel",
    "week": f"toMonday({_ANCHOR})",
    "day": f"toDate({_ANCHOR})",
}


class InvalidGrouping(StoreError, ValueError):
    """A ``--by`` name that is not a known dimension."""


def _hours(start: str, end: str) -> str:
    return f"(toUnixTimestamp64Milli({end}) - toUnixTimestamp64Milli({start})) / 3600000"


def _rate(numerator: str, denominator: str) -> str:
    return f"countIf({numerator} AND {denominator}) / nullIf(countIf({denominator}), 0)"


def _quantiles(levels: str, value: str, condition: str) -> str:
    return f"quantilesExactInclusiveIf({levels})({value}, {condition})"


DELIVERED = "s.delivered_at IS NOT NULL"
_P3 = "0.5, 0.9, 0.99"

#: KPI name → aggregate over the shipments facts (see docs/kpis.md for each definition).
DELIVERY_KPIS: dict[str, str] = {
    "shipments": "count()",
    "delivered": f"countIf({DELIVERED})",
    "on_time_vs_promise": _rate(
        "toDate(s.delivered_at) <= s.promised_date",
        f"{DELIVERED} AND s.promised_date IS NOT NULL",
    ),
    "on_time_vs_first_edd": _rate(
        "toDate(s.delivered_at) <= s.carrier_edd_first",
        f"{DELIVERED} AND s.carrier_edd_first IS NOT NULL",
    ),
    "click_to_door_h": _quantiles(
        _P3, _hours("s.placed_at", "s.delivered_at"), f"{DELIVERED} AND s.placed_at IS NOT NULL"
    ),
    "ship_to_door_h": _quantiles(
        _P3,
        _hours("s.first_scan_at", "s.delivered_at"),
        f"{DELIVERED} AND s.first_scan_at IS NOT NULL",
    ),
    "time_to_ship_h": _quantiles(
        _P3,
        _hours("s.placed_at", "s.shipped_at"),
        "s.shipped_at IS NOT NULL AND s.placed_at IS NOT NULL",
    ),
    "shipped_by_ship_by": _rate(
        "s.shipped_at <= s.ship_by", "s.shipped_at IS NOT NULL AND s.ship_by IS NOT NULL"
    ),
    "first_attempt_success": _rate(
        f"{DELIVERED} AND s.failed_attempts = 0", "s.first_attempt_at IS NOT NULL"
    ),
    "exception_rate": "countIf(s.exceptions_total > 0) / count()",
    "edd_exact_first": _rate(
        "toDate(s.delivered_at) = s.carrier_edd_first",
        f"{DELIVERED} AND s.carrier_edd_first IS NOT NULL",
    ),
    "edd_revised_rate": _rate("s.edd_revisions > 0", "s.carrier_edd_first IS NOT NULL"),
    "edd_drift_days": (
        "avgIf(dateDiff('day', s.carrier_edd_first, s.carrier_edd_last), "
        "s.carrier_edd_first IS NOT NULL AND s.carrier_edd_last IS NOT NULL)"
    ),
}

_PERIOD = f"{_ANCHOR} >= {{start:Date}} AND {_ANCHOR} < {{end:Date}}"
#: the brand filter (bound parameter ``brands``): over a fact table's ``brand`` column
_BRANDS = "{brands:Array(String)}"
#: a notification has no brand of its own: it is its order's
_ORDER_OF_BRANDS = f"SELECT order_id FROM {{db}}.timelines FINAL WHERE brand IN {_BRANDS}"
#: the period conditions of the period sections (projections.sla_notifications, sla_agents),
#: each preceded by its table's brand filter when a report is for some brands
_PERIOD_BRANDED = {
    "e.opened_at >= {start:Date}": f"e.brand IN {_BRANDS} AND e.opened_at >= {{start:Date}}",
    "n.at >= {start:Date}": f"n.order_id IN ({_ORDER_OF_BRANDS}) AND n.at >= {{start:Date}}",
}


def branded(sql: str) -> str:
    """A period section's SQL restricted to the orders of the brands in ``{brands}``."""
    found = False
    for period, restricted in _PERIOD_BRANDED.items():
        found = found or period in sql
        sql = sql.replace(period, restricted)
    if not found:
        raise ValueError("a period section without a known period condition")
    return sql


@dataclass(frozen=True, slots=True)
class SlaQuery:
    start: date
    end: date  # inclusive
    by: tuple[str, ...] = ()
    #: only the orders of these brands (``''``: unbranded orders); None: every order
    brands: frozenset[str] | None = None

    def __post_init__(self) -> None:
        unknown = [name for name in self.by if name not in DIMENSIONS]
        if unknown:
            known = ", ".join(DIMENSIONS)
            raise InvalidGrouping(f"unknown grouping {', '.join(unknown)}; use {known}")
        if self.end < self.start:
            raise InvalidGrouping(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def parameters(self) -> dict[str, Any]:
        found: dict[str, Any] = {"start": self.start, "end": self.end + timedelta(days=1)}
        if self.brands is not None:
            found["brands"] = sorted(self.brands)
        return found

    @property
    def where(self) -> str:
        """The shipment sections' condition: the cohort period, and the brands if any."""
        if self.brands is None:
            return _PERIOD
        return f"s.brand IN {_BRANDS} AND {_PERIOD}"

    def _dims(self) -> tuple[str, str]:
        select = "".join(f"{DIMENSIONS[name]} AS {name}, " for name in self.by)
        group = ", ".join(self.by)
        return select, group

    def _grouped(self, group: str, extra: Sequence[str] = ()) -> str:
        keys = [*([group] if group else []), *extra]
        if not keys:
            return ""
        joined = ", ".join(keys)
        return f"GROUP BY {joined} ORDER BY {joined}"

    def delivery_sql(self) -> str:
        select, group = self._dims()
        kpis = ",\n    ".join(f"{sql} AS {name}" for name, sql in DELIVERY_KPIS.items())
        return (
            f"SELECT {select}\n    {kpis}\nFROM {{db}}.shipments AS s FINAL\n"
            f"WHERE {self.where}\n{self._grouped(group)}"
        )

    def exceptions_sql(self) -> str:
        """Exceptions by type and reason; each counts against the shipment it names."""
        select, group = self._dims()
        return (
            f"SELECT {select}type, reason, count() AS exceptions, "
            "uniqExact(s.order_id) AS orders\n"
            "FROM {db}.shipments AS s FINAL\n"
            "ARRAY JOIN s.exception_types AS type, s.exception_reasons AS reason\n"
            f"WHERE {self.where}\n{self._grouped(group, ['type', 'reason'])}"
        )

    def returns_sql(self) -> str:
        """Return rate and return-to-refund time, on each order's first shipment."""
        select, group = self._dims()
        return (
            f"SELECT {select}countIf(s.order_delivered = 1) AS delivered_orders,\n"
            "    countIf(s.order_returned = 1) AS returned_orders,\n"
            "    returned_orders / nullIf(delivered_orders, 0) AS return_rate,\n"
            "    quantilesExactInclusiveArray(0.5, 0.9)(s.refund_waits_h) AS return_to_refund_h\n"
            "FROM {db}.shipments AS s FINAL\n"
            f"WHERE s.first_of_order = 1 AND {self.where}\n{self._grouped(group)}"
        )

    def dwell_sql(self) -> str:
        """Dwell per carrier facility: first scan at a place until the first scan elsewhere."""
        hours = _hours("arrived", "departed")
        brands = "" if self.brands is None else f"s.brand IN {_BRANDS} AND "
        return (
            "SELECT s.carrier AS carrier, facility, count() AS stays,\n"
            f"    quantilesExactInclusive(0.5, 0.9)({hours}) AS dwell_h\n"
            "FROM {db}.shipments AS s FINAL\n"
            "ARRAY JOIN s.stay_places AS facility, s.stay_arrived AS arrived, "
            "s.stay_departed AS departed\n"
            f"WHERE {brands}arrived >= {{start:Date}} AND arrived < {{end:Date}}\n"
            "GROUP BY carrier, facility ORDER BY carrier, facility"
        )


@dataclass(slots=True)
class SlaReport:
    query: SlaQuery
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kpi_version": KPI_VERSION,
            "from": self.query.start.isoformat(),
            "to": self.query.end.isoformat(),
            "by": list(self.query.by),
            "brands": None if self.query.brands is None else sorted(self.query.brands),
            **self.sections,
        }


#: the shipment sections (grouped by ``by``): :func:`sla_report`'s default, the benchmark's report
SECTIONS = ("delivery", "exceptions", "returns", "dwell")
#: with the notification sections (``notify_*``) and the agents' response times
#: (``agent_response``): what ``wismo sla`` and the API report by default
ALL_SECTIONS = (*SECTIONS, *NOTIFICATION_SECTIONS, *AGENT_SECTIONS)
#: sections over the period only: the shipment groupings (``by``) do not apply
PERIOD_SECTIONS = NOTIFICATION_SECTIONS | AGENT_SECTIONS


def section_sql(query: SlaQuery, section: str) -> str:
    if section in PERIOD_SECTIONS:
        sql = PERIOD_SECTIONS[section]
        return sql if query.brands is None else branded(sql)
    return {
        "delivery": query.delivery_sql,
        "exceptions": query.exceptions_sql,
        "returns": query.returns_sql,
        "dwell": query.dwell_sql,
    }[section]()


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return None if value != value else round(value, 6)  # NaN: no data in the group
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def section_rows(client: Any, database: str, query: SlaQuery, section: str) -> list[dict[str, Any]]:
    """Run one section's SQL on a clickhouse-connect client (blocking)."""
    return query_rows(client, section_sql(query, section).replace("{db}", database), query)


def query_rows(client: Any, sql: str, query: SlaQuery) -> list[dict[str, Any]]:
    """A report section's rows: ``sql`` run with the period of ``query`` (blocking)."""
    result = client.query(sql, parameters=query.parameters)
    names = list(result.column_names)
    return [
        {name: _jsonable(value) for name, value in zip(names, row, strict=True)}
        for row in result.result_rows
    ]


def sla_report(
    client: Any,
    database: str,
    query: SlaQuery,
    sections: Sequence[str] = SECTIONS,
    *,
    kept: bool = True,
) -> SlaReport:
    """The KPI report for a period (blocking: call it on the ClickHouse thread).

    The shipment sections come from the kept aggregates (:mod:`projections.sla_aggregates`: the
    same numbers as the SQL above) when they are up to date or may be brought up to date now,
    else, and with ``kept=False``, from that SQL.
    """
    from projections import sla_aggregates  # it builds on this module's groupings

    # the kept states are brand-blind: a report for some brands reads the facts (docs/kpis.md)
    kept = kept and query.brands is None
    kept = kept and any(section in sla_aggregates.AGGREGATED_SECTIONS for section in sections)
    kept = kept and sla_aggregates.up_to_date(client, database)
    report = SlaReport(query)
    for section in sections:
        if kept and section in sla_aggregates.AGGREGATED_SECTIONS:
            sql = sla_aggregates.section_sql(query, section).replace("{db}", database)
            report.sections[section] = query_rows(client, sql, query)
        else:
            report.sections[section] = section_rows(client, database, query, section)
    return report
