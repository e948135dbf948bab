-- scd2_close: step 1 of 2 of applying one batch to the conformed SCD Type 2 table.
--
-- Closes the CURRENT version of every key that
--   * disappeared: the key has a current row but no row in this batch (logical delete), or
--   * changed:     the key is in this batch with a different fingerprint.
-- "Closing" sets active_to = the batch's effective date E (half-open business time: the old
-- version was in force on days active_from <= D < E) and is_current = false, and stamps the row
-- with this run's ingestion_batch_id / ingestion_timestamp so the DynamoDB sync finds it by batch
-- id. Nothing else of the row changes, and no row is ever deleted.
--
-- Why the MERGE source is built from the conformed table and not from the batch:
-- Athena's MERGE has no WHEN NOT MATCHED BY SOURCE, so a disappeared key (present in the target,
-- absent from the batch) can only be matched if the source itself contains it. The source is
-- therefore "current rows LEFT JOIN this batch", filtered to the rows that must close. It has at
-- most one row per key (at most one current row per key is an invariant of this table), which
-- also satisfies Athena's rule that one target row may be matched by one source row only.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/merge-into-statement.html
--
-- Safe to repeat: after it ran, the closed keys have no current row (nothing to match), and the
-- rows the insert step opens for this batch carry the batch's own fingerprint (not "changed").
MERGE INTO {{conformed_table}} AS t
USING (
    SELECT c.{{key}} AS {{key}}
    FROM {{conformed_table}} AS c
    -- This batch only: staging holds every batch; the predicate on the injected partition key
    -- is also what lets Athena's partition projection find the batch's prefix.
    LEFT JOIN (
        SELECT {{key}}, fingerprint
        FROM {{staging_table}}
        WHERE ingestion_batch_id = {{batch_id}}
    ) AS s
        ON s.{{key}} = c.{{key}}
    WHERE c.is_current                      -- only open versions can be closed
      AND (s.{{key}} IS NULL                -- disappeared from the batch
           OR s.fingerprint <> c.fingerprint)  -- changed business fields
) AS src
    -- "AND t.is_current": a key also has closed history rows; only its open version is touched.
    ON t.{{key}} = src.{{key}} AND t.is_current
WHEN MATCHED THEN UPDATE SET
    active_to = {{effective_date}},
    is_current = false,
    ingestion_batch_id = {{batch_id}},
    ingestion_timestamp = {{ingestion_timestamp}}
