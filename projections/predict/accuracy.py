"""Predicted vs actual, per carrier: how good the live estimates were, over ClickHouse. Pure SQL.

For every shipment delivered in the period (by delivery day, UTC), the ``shipment.predicted``
events made before its delivery are compared with the day it was delivered: the first estimate
(made at its first scan or shipping), the last one before delivery, and — for scale — the
carrier's first EDD. Errors are in whole days (the estimate is a day; the window is hours).

Columns per carrier: ``shipments`` (delivered and estimated at least once), ``predictions``
(distinct estimates made for them), ``mae_first_days`` and ``mae_last_days`` (mean absolute error
of the first and last estimate), ``bias_last_days`` (mean of delivered minus predicted: positive
means later than estimated), ``mae_carrier_edd_days`` (the carrier's first EDD, for those that
had one), ``in_window`` (share delivered inside the last estimate's window).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

_PAYLOAD = "JSONExtractString(event_json, 'payload', {field})"

ACCURACY_SQL = f"""
WITH
  predictions AS (
    SELECT
      event_id,
      order_id,
      {_PAYLOAD.format(field="'shipment_id'")} AS shipment_id,
      occurred_at,
      toDate({_PAYLOAD.format(field="'predicted_delivery'")}) AS day,
      parseDateTime64BestEffort({_PAYLOAD.format(field="'window_start'")}, 3, 'UTC')
        AS window_start,
      parseDateTime64BestEffort({_PAYLOAD.format(field="'window_end'")}, 3, 'UTC') AS window_end
    FROM {{db}}.events
    WHERE kind = 'shipment.predicted'
  ),
  delivered AS (
    SELECT
      order_id,
      shipment_id,
      argMax(carrier, version) AS carrier,
      argMax(delivered_at, version) AS delivered,
      argMax(carrier_edd_first, version) AS carrier_edd
    FROM {{db}}.shipments
    GROUP BY order_id, shipment_id
    HAVING delivered IS NOT NULL AND delivered >= {{start:Date}} AND delivered < {{end:Date}}
  ),
  per_shipment AS (
    SELECT
      d.carrier AS carrier,
      any(d.delivered) AS delivered_at,
      any(d.carrier_edd) AS edd,
      argMin(p.day, p.occurred_at) AS first_day,
      argMax(p.day, p.occurred_at) AS last_day,
      argMax(p.window_start, p.occurred_at) AS last_start,
      argMax(p.window_end, p.occurred_at) AS last_end,
      uniqExact(p.event_id) AS made
    FROM delivered AS d
    INNER JOIN predictions AS p ON p.order_id = d.order_id AND p.shipment_id = d.shipment_id
    WHERE p.occurred_at <= d.delivered
    GROUP BY d.carrier, d.order_id, d.shipment_id
  )
SELECT
  carrier,
  count() AS shipments,
  sum(made) AS predictions,
  avg(abs(dateDiff('day', first_day, toDate(delivered_at)))) AS mae_first_days,
  avg(abs(dateDiff('day', last_day, toDate(delivered_at)))) AS mae_last_days,
  avg(dateDiff('day', last_day, toDate(delivered_at))) AS bias_last_days,
  avgIf(abs(dateDiff('day', edd, toDate(delivered_at))), edd IS NOT NULL) AS mae_carrier_edd_days,
  avg(delivered_at >= last_start AND delivered_at <= last_end) AS in_window
FROM per_shipment
GROUP BY carrier
ORDER BY carrier
"""

COLUMNS = (
    "carrier",
    "shipments",
    "predictions",
    "mae_first_days",
    "mae_last_days",
    "bias_last_days",
    "mae_carrier_edd_days",
    "in_window",
)


@dataclass(frozen=True, slots=True)
class AccuracyQuery:
    """Shipments delivered from ``start`` to ``end``, both inclusive (UTC days)."""

    start: date
    end: date

    @property
    def parameters(self) -> dict[str, date]:
        return {"start": self.start, "end": self.end + timedelta(days=1)}


def _number(value: Any) -> Any:
    if isinstance(value, float):
        return None if value != value else round(value, 4)  # NaN: nothing to average
    return value


def accuracy_rows(client: Any, database: str, query: AccuracyQuery) -> list[dict[str, Any]]:
    """The per-carrier rows (blocking, on a clickhouse-connect client: the ClickHouse thread)."""
    sql = ACCURACY_SQL.replace("{db}", database)
    result = client.query(sql, parameters=query.parameters)
    return [
        {name: _number(value) for name, value in zip(COLUMNS, row, strict=True)}
        for row in result.result_rows
    ]
