-- SLA analytics (docs/kpis.md): the shipment columns the KPIs need, and fact tables fed from the
-- event log by materialised views. The views see every insert into events, duplicates and
-- re-deliveries included; the targets are ReplacingMergeTree keyed by event, and the KPI queries
-- read them with FINAL, so a duplicate or a late event never counts twice.
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS ship_by Nullable(DateTime64(3, 'UTC'));
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS edd_revisions UInt16 DEFAULT 0;

CREATE TABLE IF NOT EXISTS {db}.checkpoints
(
    tracking_number String,
    occurred_at DateTime64(6, 'UTC'),
    event_id String,
    carrier LowCardinality(String),
    status LowCardinality(String),
    reason LowCardinality(String),
    place String COMMENT 'facility, else city: where the parcel was',
    country LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (tracking_number, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.checkpoints_mv TO {db}.checkpoints AS
SELECT
    tracking_number,
    occurred_at,
    event_id,
    JSONExtractString(event_json, 'payload', 'carrier') AS carrier,
    JSONExtractString(event_json, 'payload', 'status') AS status,
    JSONExtractString(event_json, 'payload', 'reason') AS reason,
    if(JSONExtractString(event_json, 'payload', 'location', 'facility') != '',
       JSONExtractString(event_json, 'payload', 'location', 'facility'),
       JSONExtractString(event_json, 'payload', 'location', 'city')) AS place,
    JSONExtractString(event_json, 'payload', 'location', 'country') AS country
FROM {db}.events
WHERE kind = 'tracking.checkpoint';

INSERT INTO {db}.checkpoints
SELECT
    tracking_number,
    occurred_at,
    event_id,
    JSONExtractString(event_json, 'payload', 'carrier'),
    JSONExtractString(event_json, 'payload', 'status'),
    JSONExtractString(event_json, 'payload', 'reason'),
    if(JSONExtractString(event_json, 'payload', 'location', 'facility') != '',
       JSONExtractString(event_json, 'payload', 'location', 'facility'),
       JSONExtractString(event_json, 'payload', 'location', 'city')),
    JSONExtractString(event_json, 'payload', 'location', 'country')
FROM {db}.events
WHERE kind = 'tracking.checkpoint';

CREATE TABLE IF NOT EXISTS {db}.return_facts
(
    order_id String,
    event_id String,
    kind LowCardinality(String),
    occurred_at DateTime64(6, 'UTC'),
    return_id String,
    amount Nullable(Decimal(18, 4))
)
ENGINE = ReplacingMergeTree
ORDER BY (order_id, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.return_facts_mv TO {db}.return_facts AS
SELECT
    order_id,
    event_id,
    kind,
    occurred_at,
    JSONExtractString(event_json, 'payload', 'return_id') AS return_id,
    toDecimal64OrNull(JSONExtractString(event_json, 'payload', 'amount'), 4) AS amount
FROM {db}.events
WHERE kind IN ('return.authorized', 'return.received', 'refund.issued') AND order_id != '';

INSERT INTO {db}.return_facts
SELECT
    order_id,
    event_id,
    kind,
    occurred_at,
    JSONExtractString(event_json, 'payload', 'return_id'),
    toDecimal64OrNull(JSONExtractString(event_json, 'payload', 'amount'), 4)
FROM {db}.events
WHERE kind IN ('return.authorized', 'return.received', 'refund.issued') AND order_id != ''
