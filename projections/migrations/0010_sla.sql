-- SLA analytics (docs/kpis.md): everything the KPIs need lives on the shipment fact row, which
-- each timeline version replaces wholesale (ReplacingMergeTree(version), read with FINAL), so a
-- duplicate, replayed or late event never counts twice and every KPI is one scan.
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS ship_by Nullable(DateTime64(3, 'UTC'));
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS edd_revisions UInt16 DEFAULT 0;
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS exception_types Array(LowCardinality(String));
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS exception_reasons Array(LowCardinality(String));
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS stay_places Array(String);
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS stay_arrived Array(DateTime64(3, 'UTC'));
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS stay_departed Array(DateTime64(3, 'UTC'));
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS first_of_order UInt8 DEFAULT 0;
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS order_delivered UInt8 DEFAULT 0;
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS order_returned UInt8 DEFAULT 0;
ALTER TABLE {db}.shipments ADD COLUMN IF NOT EXISTS refund_waits_h Array(Float64)
