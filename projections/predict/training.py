"""Training and test queries over ClickHouse for the delivery-estimate model. SQL text, no I/O.

A *sample* is one carrier scan of a delivered parcel: its features at that scan (the same as
:func:`projections.predict.model.features_of` computes from a timeline) and the hours from the
scan to the delivery. Training aggregates the samples of the parcels delivered in the window per
:class:`~projections.predict.model.Level` and group key — sample size, parcels, quantiles — in one
scan (each sample is expanded into its seven group keys with ``ARRAY JOIN``), so no row of the
log ever travels to Python. The test query of a backtest lists the samples of the parcels
delivered after the cut, with what was known at each scan (promise, the carrier's EDD then).

Parameters: ``{start:DateTime64(3)}`` and ``{until:DateTime64(3)}`` bound the delivery time;
``{min_samples:UInt32}`` the groups kept; ``{db}`` is the database.
"""

from __future__ import annotations

from projections.predict.model import DAYS_CAP, LEVEL_FIELDS, LEVELS, QUANTILE_LEVELS


def _region(prefix: str) -> str:
    country = f"replaceAll({prefix}_country, '|', '/')"
    area = f"replaceAll({prefix}_region, '|', '/')"
    return f"if({area} != '', concat({country}, '-', {area}), {country})"


_PARCELS = f"""
SELECT tracking_number,
    replaceAll(carrier, '|', '/') AS carrier,
    replaceAll(service, '|', '/') AS service,
    {_region("origin")} AS origin,
    {_region("destination")} AS destination,
    coalesce(shipped_at, first_scan_at) AS start_at,
    assumeNotNull(delivered_at) AS delivered,
    promised_date,
    carrier_edd_first
FROM {{db}}.shipments FINAL
WHERE delivered_at IS NOT NULL AND tracking_number != ''
  AND delivered_at >= {{start:DateTime64(3)}} AND delivered_at < {{until:DateTime64(3)}}
"""

_STATUS_BUCKET = """multiIf(
    status IN ('pending', 'info_received'), 'pre_transit',
    status IN ('in_transit', 'unknown'), 'in_transit',
    status IN ('exception', 'attempt_fail'), 'exception',
    status = 'out_for_delivery', 'out_for_delivery',
    status = 'available_for_pickup', 'pickup',
    '')"""

_SCANS = f"""
SELECT tracking_number, occurred_at AS at,
    JSONExtractString(event_json, 'payload', 'status') AS status,
    {_STATUS_BUCKET} AS bucket
FROM {{db}}.events
WHERE kind = 'tracking.checkpoint' AND tracking_number IN (SELECT tracking_number FROM parcels)
LIMIT 1 BY event_id
"""

# every sample with its features (the columns named as Features' fields)
_SAMPLES = f"""
SELECT p.tracking_number AS parcel, p.carrier AS carrier, p.service AS service,
    p.origin AS origin, p.destination AS destination, s.bucket AS status,
    least(greatest(intDiv(dateDiff('second', coalesce(p.start_at, s.at), s.at), 86400), 0),
          {DAYS_CAP}) AS days,
    toDayOfWeek(s.at) AS weekday,
    s.at AS at, p.delivered AS delivered, p.start_at AS start_at,
    p.promised_date AS promised_date, p.carrier_edd_first AS carrier_edd_first,
    dateDiff('millisecond', s.at, p.delivered) / 3600000.0 AS remaining
FROM scans AS s INNER JOIN parcels AS p ON s.tracking_number = p.tracking_number
WHERE s.at < p.delivered AND s.bucket != ''
"""


def _key(level_fields: tuple[str, ...]) -> str:
    if not level_fields:
        return "'*'"
    return "concat(" + ", '|', ".join(f"toString({name})" for name in level_fields) + ")"


_KEYS = ", ".join(f"('{level.value}', {_key(LEVEL_FIELDS[level])})" for level in LEVELS)
_QUANTILES = ", ".join(str(q) for q in QUANTILE_LEVELS)

TRAIN_SQL = f"""
WITH parcels AS ({_PARCELS}),
scans AS ({_SCANS}),
samples AS ({_SAMPLES})
SELECT lk.1 AS level, lk.2 AS key, count() AS n_samples, uniqExact(parcel) AS n_parcels,
    quantilesExact({_QUANTILES})(remaining) AS hours
FROM samples
ARRAY JOIN [{_KEYS}] AS lk
GROUP BY level, key
HAVING n_samples >= {{min_samples:UInt32}} OR level = 'global'
ORDER BY level, key
"""

#: the naive baseline: the median hours from shipping to delivery, per carrier and overall
BASELINE_SQL = f"""
WITH parcels AS ({_PARCELS})
SELECT carrier, quantileExact(0.5)(dateDiff('millisecond', start_at, delivered) / 3600000.0)
FROM parcels WHERE start_at IS NOT NULL
GROUP BY carrier WITH TOTALS
"""

_EDDS = """
SELECT tracking_number, occurred_at AS at,
    toDateOrNull(JSONExtractString(event_json, 'payload', 'estimated_delivery')) AS edd
FROM {db}.events
WHERE kind IN ('edd.revised', 'tracking.checkpoint')
  AND tracking_number IN (SELECT tracking_number FROM parcels)
  AND edd IS NOT NULL
LIMIT 1 BY event_id
"""

#: the samples of the parcels shipped and delivered in the test period (a parcel shipped before it
#: would be one that was slow enough to miss the training: a biased sample), each with the
#: carrier's EDD as known at the scan (its newest revision by then, else its first)
TEST_SQL = f"""
WITH parcels AS ({_PARCELS}),
scans AS ({_SCANS}),
samples AS ({_SAMPLES}),
edds AS ({_EDDS})
SELECT x.parcel, x.carrier, x.service, x.origin, x.destination, x.status, x.days, x.weekday,
    x.at, x.delivered, x.start_at, x.promised_date,
    if(e.edd IS NULL, x.carrier_edd_first, e.edd) AS edd_then
FROM samples AS x ASOF LEFT JOIN edds AS e ON x.parcel = e.tracking_number AND x.at >= e.at
WHERE x.start_at >= {{start:DateTime64(3)}}
ORDER BY x.parcel, x.at
SETTINGS join_use_nulls = 1
"""

#: how much history there is: delivered parcels and the range of their delivery times
COVERAGE_SQL = """
SELECT count(), min(delivered_at), max(delivered_at)
FROM {db}.shipments FINAL WHERE delivered_at IS NOT NULL AND tracking_number != ''
"""
