-- Layer 2: rows staged for one batch, and how many distinct keys they hold (must be equal: one
-- row per entity per batch). The static equality on ingestion_batch_id is required by the
-- table's 'injected' partition projection.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html
SELECT
  count(*) AS staged,
  count(DISTINCT {{key}}) AS distinct_keys
FROM {{staging_table}}
WHERE ingestion_batch_id = {{batch_id}}
