-- The latest timeline of each order (highest version wins).
CREATE TABLE IF NOT EXISTS {db}.timelines
(
    order_id String,
    version UInt64,
    digest String,
    status LowCardinality(String),
    timeline_json String,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY order_id
SETTINGS non_replicated_deduplication_window = 10000;
