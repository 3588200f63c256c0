-- Per-brand analytics (docs/kpis.md, "Brands"): each fact row carries its order's brand
-- (Timeline.brand; '' for an unbranded order), replaced with the row by each timeline version
-- (ReplacingMergeTree(version)), so an order whose brand changes counts under its latest brand.
-- Notification rows have no brand of their own: a brand filter reads them through their order's
-- timeline. The kept aggregates of 0015 stay brand-blind; a report for some brands reads the
-- plain facts. Rows written before this migration keep '' until their order is written again
-- (or the warehouse is rebuilt).
ALTER TABLE {db}.timelines ADD COLUMN IF NOT EXISTS brand LowCardinality(String) DEFAULT '';
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS brand LowCardinality(String) DEFAULT '';
ALTER TABLE {db}.exceptions ADD COLUMN IF NOT EXISTS brand LowCardinality(String) DEFAULT ''
