-- Layer 2: the counts of one DRUG delivery that the staged/rejected rows cannot give back:
--   rows_read     package rows of the delivery (the unit of DRUG: one package = one NDC);
--   excluded      package rows whose product has NDC_EXCLUDE_FLAG = 'E' (neither staged nor
--                 rejected; rows read = staged + duplicates + rejected + excluded);
--   invalid_dates non-empty product marketing dates of included rows (flag 'N') that are not a
--                 valid YYYYMMDD day, and so became NULL in staging (same test as
--                 stage_drug_fda_ndc.sql: 8 digits, then try(date_parse)).
-- The rows are those the staging CTAS statements read: the same fragment (its CTEs after
-- "keyed" are unused here, which Athena allows).
-- pipeline.stage runs "<staging template>_counts" when it exists and reports its columns.
WITH
{{> drug_fda_ndc_candidates}},
dated AS (
  SELECT
    ndc_exclude_flag,
    -- 1 when the value is present but not a valid date (see stage_drug_fda_ndc.sql)
    CASE
      WHEN trim(BOTH ' ' FROM startmarketingdate) = '' THEN 0
      WHEN regexp_like(trim(BOTH ' ' FROM startmarketingdate), '^[0-9]{8}$')
        AND try(date_parse(trim(BOTH ' ' FROM startmarketingdate), '%Y%m%d')) IS NOT NULL THEN 0
      ELSE 1
    END
    + CASE
      WHEN trim(BOTH ' ' FROM endmarketingdate) = '' THEN 0
      WHEN regexp_like(trim(BOTH ' ' FROM endmarketingdate), '^[0-9]{8}$')
        AND try(date_parse(trim(BOTH ' ' FROM endmarketingdate), '%Y%m%d')) IS NOT NULL THEN 0
      ELSE 1
    END AS bad_dates
  FROM keyed
)
SELECT
  count(*) AS rows_read,
  count_if(ndc_exclude_flag = 'E') AS excluded,
  coalesce(sum(CASE WHEN ndc_exclude_flag = 'N' THEN bad_dates ELSE 0 END), 0) AS invalid_dates
FROM dated
