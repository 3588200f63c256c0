-- Trained delivery-estimate models (docs/prediction.md): one row per version, with its training
-- window and sample sizes; the artefact itself is the JSON of projections.predict.model.
CREATE TABLE IF NOT EXISTS {db}.prediction_models
(
    version String,
    created_at DateTime64(3, 'UTC'),
    trained_from DateTime64(3, 'UTC'),
    trained_until DateTime64(3, 'UTC'),
    min_samples UInt32,
    samples UInt64,
    parcels UInt64,
    groups UInt32,
    model_json String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY version;
