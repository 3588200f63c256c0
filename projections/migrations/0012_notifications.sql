-- Notification outcomes (docs/notifications.md, "Analytics"; docs/kpis.md, "Notifications"):
-- one row per message and state, from the notify role's records on the notifications topic.
-- A record delivered twice (at-least-once) collapses on merge and counts once under FINAL (the
-- key is message_id + state; the latest `at` wins). No personal data: the recipient is hashed.
-- TTL: retention.notifications_days (by at), applied on every start like the other tables.
CREATE TABLE IF NOT EXISTS {db}.notifications
(
    message_id String,
    order_id String,
    channel LowCardinality(String) COMMENT 'email, sms, webhook or chat',
    kind LowCardinality(String) COMMENT 'a milestone, an integrator event type, or alert',
    recipient_hash String COMMENT 'SHA-256 of the recipient',
    state LowCardinality(String) COMMENT 'sent, failed, suppressed, …',
    at DateTime64(3, 'UTC') COMMENT 'when the outcome happened',
    triggered_at DateTime64(3, 'UTC') COMMENT 'when the event that caused the message happened',
    attempts UInt16,
    reason LowCardinality(String) COMMENT 'why failed or suppressed, empty otherwise',
    endpoint String COMMENT 'webhook subscription id or chat target, empty otherwise',
    status_code Nullable(UInt16),
    latency_ms Nullable(Float64),
    INDEX order_idx order_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (message_id, state)
SETTINGS non_replicated_deduplication_window = 10000
