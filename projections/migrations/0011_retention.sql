-- Retention and erasure (docs/guarantees.md, "Retention and erasure").
-- The fact tables get the time each row was written, for their TTL (retention.*_days, applied on
-- every start by projections.clickhouse_schema.apply_ttls; rows written before this migration
-- count from the time the TTL is first set).
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS updated_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE {db}.exceptions ADD COLUMN IF NOT EXISTS updated_at DateTime64(3, 'UTC') DEFAULT now64(3);
-- One row per erasure: who asked, when, what kind of subject and which orders it touched; never
-- the erased value itself. Kept for ever (no TTL).
CREATE TABLE IF NOT EXISTS {db}.erasures
(
    erasure_id String,
    requested_at DateTime64(3, 'UTC'),
    requested_by String,
    subject LowCardinality(String) COMMENT 'order, email or phone',
    orders Array(String),
    events UInt32 COMMENT 'logged events rewritten',
    redis_keys UInt32 COMMENT 'Redis keys removed'
)
ENGINE = MergeTree
ORDER BY (requested_at, erasure_id)
