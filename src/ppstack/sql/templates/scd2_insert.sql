-- scd2_insert: step 2 of 2 of applying one batch to the conformed SCD Type 2 table.
--
-- Opens a new current version (active_from = the batch's effective date E, active_to = 9999-12-31,
-- is_current = true) for every key of this batch that has NO current row. After scd2_close ran,
-- that is exactly:
--   * new keys         (never seen before),
--   * changed keys     (their old version was closed by scd2_close with active_to = E, so the new
--                       version starts the same day: no gap, no overlap), and
--   * reactivated keys (closed by an earlier batch as disappeared, back in this one).
-- Unchanged keys still have their current row and are skipped.
--
-- Safe to repeat: once it ran, every key of the batch has a current row, so a second run inserts
-- nothing. If the run crashed between close and insert, running both again completes the batch.
-- Staging guarantees one row per key per batch, so at most one current row per key results.
INSERT INTO {{conformed_table}} (
    {{conformed_columns}}
)
SELECT
    {{business_columns_s}},
    {{effective_date}} AS active_from,
    DATE '9999-12-31' AS active_to,         -- open version
    true AS is_current,
    s.source_effective_date,
    s.source_file_date,
    {{ingestion_timestamp}} AS ingestion_timestamp,  -- the same run stamp scd2_close writes
    {{batch_id}} AS ingestion_batch_id,   -- every row this batch touches carries its id
    s.fingerprint,
    s.source_system,
    {{batch_id}} AS opened_batch_id,      -- kept when a later batch closes the version (lineage)
    s._source_file,                       -- the archived file and row the version came from
    s._source_row
FROM {{staging_table}} AS s
-- Anti-join against the open versions: keys that already have a current row are not re-opened.
LEFT JOIN (
    SELECT {{key}}
    FROM {{conformed_table}}
    WHERE is_current
) AS c
    ON c.{{key}} = s.{{key}}
WHERE s.ingestion_batch_id = {{batch_id}}  -- this batch only (also selects the staging prefix)
  AND c.{{key}} IS NULL
