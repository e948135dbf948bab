-- guard_effective_date: the latest business date already applied to the conformed table by any
-- OTHER batch than this one.
--
-- Batches must apply in strictly increasing effective date (half-open versions can only be
-- appended at the end of each key's timeline). The batch ledger is the primary record of applied
-- dates; this query is the table's own answer, so the guard still holds if ledger records are
-- missing. Rows of this batch are excluded so that resuming a half-applied batch is not refused
-- by its own effects. A date appears as active_from of an opened version or as active_to of a
-- closed one; the open end 9999-12-31 is not a date anything was applied on.
SELECT max(applied) AS last_applied
FROM (
    SELECT active_from AS applied
    FROM {{conformed_table}}
    WHERE ingestion_batch_id <> {{batch_id}}
    UNION ALL
    SELECT active_to AS applied
    FROM {{conformed_table}}
    WHERE ingestion_batch_id <> {{batch_id}}
      AND NOT is_current
) AS d
