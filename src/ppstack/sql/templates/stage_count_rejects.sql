-- Layer 2: rejected rows of one batch per reason code ('duplicate' = lost de-duplication).
-- The static equality on ingestion_batch_id is required by 'injected' partition projection.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html
SELECT
  reason_code,
  count(*) AS row_count
FROM {{rejects_table}}
WHERE ingestion_batch_id = {{batch_id}}
GROUP BY reason_code
