-- guard_mass_delete: how many current keys this batch would close as DISAPPEARED.
--
-- Run before scd2_close. A truncated or partial source file looks exactly like a mass delete of
-- every key it lacks, and the DynamoDB sync would then mark those drugs as withdrawn. The runner
-- compares disappearing_keys / current_keys with settings.mass_delete_threshold (default 5 %) and
-- refuses the batch unless --allow-mass-delete. The very first batch has no current keys and
-- passes. Same join as scd2_close, so the guard counts exactly what the MERGE would close.
SELECT
    count(*) AS current_keys,
    coalesce(sum(CASE WHEN s.{{key}} IS NULL THEN 1 ELSE 0 END), 0) AS disappearing_keys
FROM {{conformed_table}} AS c
LEFT JOIN (
    SELECT {{key}}
    FROM {{staging_table}}
    WHERE ingestion_batch_id = {{batch_id}}
) AS s
    ON s.{{key}} = c.{{key}}
WHERE c.is_current
