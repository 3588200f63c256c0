-- One row per exception per timeline version (latest state wins).
CREATE TABLE IF NOT EXISTS {db}.exceptions
(
    order_id String,
    exception_id String,
    type LowCardinality(String),
    severity LowCardinality(String),
    owner LowCardinality(String),
    subject String,
    reason LowCardinality(String),
    state LowCardinality(String),
    message String,
    opened_at Nullable(DateTime64(3, 'UTC')),
    acknowledged_at Nullable(DateTime64(3, 'UTC')),
    resolved_at Nullable(DateTime64(3, 'UTC')),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (order_id, exception_id)
SETTINGS non_replicated_deduplication_window = 10000;
