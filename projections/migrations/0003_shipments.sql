-- One row per shipment per timeline version: the fact table behind the SLA queries.
CREATE TABLE IF NOT EXISTS {db}.shipments
(
    order_id String,
    shipment_id String,
    tracking_number String,
    carrier LowCardinality(String),
    service LowCardinality(String),
    channel LowCardinality(String),
    sales_channel LowCardinality(String),
    origin_country LowCardinality(String),
    origin_region String,
    origin_city String,
    destination_country LowCardinality(String),
    destination_region String,
    destination_city String,
    status LowCardinality(String),
    reason LowCardinality(String),
    placed_at Nullable(DateTime64(3, 'UTC')),
    promised_date Nullable(Date),
    carrier_edd_first Nullable(Date),
    carrier_edd_last Nullable(Date),
    shipped_at Nullable(DateTime64(3, 'UTC')),
    first_scan_at Nullable(DateTime64(3, 'UTC')),
    out_for_delivery_at Nullable(DateTime64(3, 'UTC')),
    first_attempt_at Nullable(DateTime64(3, 'UTC')),
    delivered_at Nullable(DateTime64(3, 'UTC')),
    returned_at Nullable(DateTime64(3, 'UTC')),
    failed_attempts UInt16,
    exceptions_total UInt16,
    exceptions_open UInt16,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (order_id, shipment_id)
SETTINGS non_replicated_deduplication_window = 10000;
