-- scd2_batch_counts: what one batch did to the conformed table, read back by batch id.
--
-- Every row a batch touches carries its ingestion_batch_id (scd2_close stamps the versions it
-- closes, scd2_insert the versions it opens), so grouping those rows by key classifies each key
-- the same way the DynamoDB sync does:
--   inserted = an opened version only       (new or reactivated key)
--   updated  = a closed and an opened one   (changed key)
--   deleted  = a closed version only        (disappeared key)
-- Reading the counts back instead of adding up statement row counts keeps the ledger right when a
-- step is re-run (a re-run affects zero rows but the batch's effect is unchanged).
SELECT
    coalesce(sum(CASE WHEN opened > 0 AND closed = 0 THEN 1 ELSE 0 END), 0) AS inserted,
    coalesce(sum(CASE WHEN opened > 0 AND closed > 0 THEN 1 ELSE 0 END), 0) AS updated,
    coalesce(sum(CASE WHEN opened = 0 AND closed > 0 THEN 1 ELSE 0 END), 0) AS deleted,
    coalesce(sum(opened), 0) AS rows_opened,
    coalesce(sum(closed), 0) AS rows_closed
FROM (
    SELECT
        {{key}},
        sum(CASE WHEN is_current THEN 1 ELSE 0 END) AS opened,
        sum(CASE WHEN is_current THEN 0 ELSE 1 END) AS closed
    FROM {{conformed_table}}
    WHERE ingestion_batch_id = {{batch_id}}
    GROUP BY {{key}}
) AS per_key
