-- select_in_force: the key and fingerprint of every version in force at the end of the day
-- before {{from_date}} (half-open business time: active_from <= D-1 < active_to). It is what
-- `ppstack replay --from D` keeps as the current state its first delivery is compared with.
SELECT {{key}} AS entity_key, fingerprint
FROM {{conformed_table}}
WHERE active_from < {{from_date}}
  AND active_to >= {{from_date}}
