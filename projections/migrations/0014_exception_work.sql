-- Who works an exception (docs/kpis.md, "Agent response"): the agents who acknowledged and
-- resolved it, whether the resolution was automatic, its assignee, when it was escalated, its
-- service-desk case number and a customer report's problem type. Filled from the timeline's
-- exceptions by the warehouse; rows written before this migration keep the defaults.
ALTER TABLE {db}.exceptions ADD COLUMN IF NOT EXISTS acknowledged_by String DEFAULT '';
ALTER TABLE {db}.exceptions ADD COLUMN IF NOT EXISTS resolved_by String DEFAULT '';
ALTER TABLE {db}.exceptions ADD COLUMN IF NOT EXISTS automatic_resolution UInt8 DEFAULT 0;
ALTER TABLE {db}.exceptions ADD COLUMN IF NOT EXISTS assignee String DEFAULT '';
ALTER TABLE {db}.exceptions ADD COLUMN IF NOT EXISTS escalated_at Nullable(DateTime64(3, 'UTC'));
ALTER TABLE {db}.exceptions ADD COLUMN IF NOT EXISTS case_number String DEFAULT '';
ALTER TABLE {db}.exceptions ADD COLUMN IF NOT EXISTS problem LowCardinality(String) DEFAULT ''
