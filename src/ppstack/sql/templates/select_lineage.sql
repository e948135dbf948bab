-- select_lineage: every version of one entity with where it came from (`ppstack lineage`).
-- The interval, the batch that opened the version (opened_batch_id) and, for a closed version,
-- the batch that closed it (its last writer), plus the archived file and row it was read from.
SELECT
    active_from,
    active_to,
    is_current,
    opened_batch_id,
    CASE WHEN is_current THEN NULL ELSE ingestion_batch_id END AS closed_batch_id,
    source_effective_date,
    fingerprint,
    _source_file,
    _source_row
FROM {{conformed_table}}
WHERE {{key}} = {{entity_id}}
ORDER BY active_from
