-- Rows one ingestion batch wrote to the conformed table: the sync worker's only input
-- (docs/sync.md#what-a-batchs-sync-reads).
--
-- Batch B's rows are the current rows B closed (is_current = false, active_to = E) and the
-- current rows B opened (active_from = E); the close MERGE stamps both with B's
-- ingestion_batch_id. The sync groups them by key and classifies INSERT / UPDATE / DELETE.
-- Ordered by key then active_from so a reader can stream one key's rows together.
SELECT
    {{conformed_columns}}
FROM {{conformed_table}}
WHERE ingestion_batch_id = {{batch_id}}
ORDER BY {{key}}, active_from
