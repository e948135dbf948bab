-- Every row (all versions) of the keys from {{first_key}} to {{last_key}}, both included: one
-- key range of the conformed table, cut by select_conformed_keys.sql. A key's rows are never
-- split between two ranges, because its versions are projected onto DynamoDB items together.
--
-- Ordered by key then active_from, as select_conformed_all.sql, so the rows of one key arrive
-- together and a range projects exactly as the whole table would for those keys.
SELECT
    {{conformed_columns}}
FROM {{conformed_table}}
WHERE {{key}} BETWEEN {{first_key}} AND {{last_key}}
ORDER BY {{key}}, active_from
