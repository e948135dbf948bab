-- The distinct keys of one entity type's conformed table, in order: how the readers that must
-- not hold the whole table at once (the DynamoDB step of `ppstack replay`, its invariant check,
-- `ppstack reconcile --repair`) cut it into key ranges, read one range at a time with
-- select_conformed_range.sql. A key is a short string (an 11-digit NDC), so the list is small
-- even for the full directory (about 180,000 keys).
SELECT DISTINCT {{key}}
FROM {{conformed_table}}
ORDER BY {{key}}
