-- scd2_as_of: business-time read, "what was in force on day D".
--
-- Versions are half-open intervals [active_from, active_to): a version closed with active_to = D
-- was replaced (or withdrawn) on D and is no longer in force that day, while the version opened
-- with active_from = D is. Exactly one version per key satisfies this for any D on which the key
-- existed, and none for a day on which it was logically deleted. Open versions end at 9999-12-31.
SELECT *
FROM {{conformed_table}}
WHERE active_from <= {{as_of_date}}
  AND {{as_of_date}} < active_to
