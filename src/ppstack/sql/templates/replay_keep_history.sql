-- replay_keep_history: `ppstack replay ENTITY --from D` keeps the history before D.
--
-- Copies into the new (empty) conformed table every version that began before D, as the table
-- stood at the end of day D-1: a version still in force on D-1 (active_to >= D, i.e. it was
-- closed on D or later, or never) is open again, with the batch that opened it as its last
-- writer; a version closed before D is copied unchanged. The deliveries dated D and later are
-- then applied on top by the ordinary close and insert statements, in date order.
--
-- Versions that began on D or later are not copied: the replayed deliveries open them again.
-- One INSERT ... SELECT = one Iceberg commit, so a crash leaves the new table empty or complete
-- (the replay copies only into an empty table).
INSERT INTO {{replay_table}} (
    {{conformed_columns}}
)
SELECT
    {{business_columns}},
    active_from,
    CASE WHEN active_to >= {{from_date}} THEN DATE '9999-12-31' ELSE active_to END AS active_to,
    active_to >= {{from_date}} AS is_current,
    source_effective_date,
    source_file_date,
    ingestion_timestamp,
    -- a reopened version's last writer is again the batch that opened it (rows of tables made
    -- before opened_batch_id existed keep the id they have)
    CASE WHEN active_to >= {{from_date}} THEN coalesce(opened_batch_id, ingestion_batch_id)
         ELSE ingestion_batch_id END AS ingestion_batch_id,
    fingerprint,
    source_system,
    opened_batch_id,
    _source_file,
    _source_row
FROM {{conformed_table}}
WHERE active_from < {{from_date}}
