-- Kept aggregates for the shipment KPI sections (projections/sla_aggregates.py): exact states per
-- bucket of orders (cityHash64(order_id) % 8), day and grouping, each bucket recomputed from
-- shipments FINAL under a new generation (gen) when it is dirty; a report reads each bucket's
-- latest generation only. Older generations of the same key collapse in merges.
CREATE TABLE IF NOT EXISTS {db}.sla_rollup
(
    bucket UInt16,
    gen UInt64,
    day Date,
    carrier LowCardinality(String),
    service LowCardinality(String),
    channel LowCardinality(String),
    lane String,
    shipments UInt64,
    delivered UInt64,
    on_time_vs_promise_hits UInt64,
    on_time_vs_promise_of UInt64,
    on_time_vs_first_edd_hits UInt64,
    on_time_vs_first_edd_of UInt64,
    shipped_by_ship_by_hits UInt64,
    shipped_by_ship_by_of UInt64,
    first_attempt_success_hits UInt64,
    first_attempt_success_of UInt64,
    edd_exact_first_hits UInt64,
    edd_exact_first_of UInt64,
    edd_revised_rate_hits UInt64,
    edd_revised_rate_of UInt64,
    click_to_door_h Array(Float64),
    ship_to_door_h Array(Float64),
    time_to_ship_h Array(Float64),
    excepted UInt64,
    drift_days Int64,
    drift_of UInt64,
    first_orders UInt64,
    delivered_orders UInt64,
    returned_orders UInt64,
    refund_waits Array(Float64)
)
ENGINE = ReplacingMergeTree(gen)
ORDER BY (day, bucket, carrier, service, channel, lane);
CREATE TABLE IF NOT EXISTS {db}.sla_rollup_exceptions
(
    bucket UInt16,
    gen UInt64,
    day Date,
    carrier LowCardinality(String),
    service LowCardinality(String),
    channel LowCardinality(String),
    lane String,
    type LowCardinality(String),
    reason LowCardinality(String),
    exceptions UInt64,
    orders Array(UInt128)
)
ENGINE = ReplacingMergeTree(gen)
ORDER BY (day, bucket, carrier, service, channel, lane, type, reason);
CREATE TABLE IF NOT EXISTS {db}.sla_rollup_dwell
(
    bucket UInt16,
    gen UInt64,
    day Date,
    carrier LowCardinality(String),
    facility String,
    stays UInt64,
    dwell_h Array(Float64)
)
ENGINE = ReplacingMergeTree(gen)
ORDER BY (day, bucket, carrier, facility);
-- Each bucket's generations: the latest is current; covered = the writes it includes.
CREATE TABLE IF NOT EXISTS {db}.sla_rollup_buckets
(
    bucket UInt16,
    gen UInt64,
    covered DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(gen)
ORDER BY bucket;
-- When each bucket last got a fact row: written by the view below on every insert.
CREATE TABLE IF NOT EXISTS {db}.sla_dirty
(
    bucket UInt16,
    at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY bucket;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.sla_dirty_mv TO {db}.sla_dirty AS
SELECT DISTINCT toUInt16(cityHash64(order_id) % 8) AS bucket, now64(3, 'UTC') AS at
FROM {db}.shipments;
-- Facts written before this migration: every bucket is dirty.
INSERT INTO {db}.sla_dirty SELECT toUInt16(number), now64(3, 'UTC') FROM numbers(8)
