-- Every canonical event, as received (a scan may be logged before it is linked to an order).
-- Copies of one event collapse on merge; the linked copy wins over an unlinked one.
-- Reads that need the exact set deduplicate in Python with projections.ordering.dedupe.
CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id String,
    kind LowCardinality(String),
    source LowCardinality(String),
    order_id String COMMENT 'empty while a scan is not linked to an order',
    tracking_number String,
    links Array(String) COMMENT 'tracking numbers this event attaches to its order',
    occurred_at DateTime64(6, 'UTC'),
    received_at Nullable(DateTime64(6, 'UTC')),
    raw_ref String,
    event_json String COMMENT 'the canonical JSON (wismo.events.dump_event)',
    linked UInt8,
    INDEX order_idx order_id TYPE bloom_filter GRANULARITY 4,
    INDEX tracking_idx tracking_number TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(linked)
ORDER BY event_id
SETTINGS non_replicated_deduplication_window = 10000;
