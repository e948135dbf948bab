-- Layer 2: rows staged for one batch, and how many distinct keys they hold (must be equal: one
-- row per entity per batch); the file dates let a re-run with the same batch id but another
-- ingest date be refused instead of silently reporting the old batch. The static equality on ingestion_batch_id is required by the
-- table's 'injected' partition projection.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html
SELECT
  count(*) AS staged,
  count(DISTINCT {{key}}) AS distinct_keys,
  min(source_file_date) AS first_file_date,
  max(source_file_date) AS last_file_date
FROM {{staging_table}}
WHERE ingestion_batch_id = {{batch_id}}
