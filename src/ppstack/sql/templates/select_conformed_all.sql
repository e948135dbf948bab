-- Every row of the conformed table of one entity type, all versions of every key:
-- the input of `ppstack sync --rebuild` and `ppstack reconcile`, which project it onto the
-- DynamoDB items it implies (current + history + search tokens).
--
-- Ordered by key then active_from so the rows of one key arrive together.
SELECT
    {{conformed_columns}}
FROM {{conformed_table}}
ORDER BY {{key}}, active_from
