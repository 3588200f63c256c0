-- Which code folded each timeline snapshot (projections/fold_fingerprint.py): a snapshot whose
-- fold is the running code's and whose digest matches the log's event ids stands in for a refold
-- when Redis is rebuilt (docs/guarantees.md, "Rebuilding Redis"). '' (rows written before this
-- migration, or read back from a store): not known, so always refolded.
ALTER TABLE {db}.timelines ADD COLUMN IF NOT EXISTS fold LowCardinality(String) DEFAULT ''
