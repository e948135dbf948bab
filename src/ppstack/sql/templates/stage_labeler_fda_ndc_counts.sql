-- Layer 2: counts of one LABELER delivery the staged/rejected rows cannot give back:
--   rows_read      product rows of the delivery;
--   excluded       product rows with NDC_EXCLUDE_FLAG = 'E' (neither staged nor rejected);
--   aggregated     included product rows folded into staged labelers (one labeler has many
--                  products, so rows_read = aggregated + rejected + excluded);
--   invalid_dates  non-empty STARTMARKETINGDATE of included rows that is not a valid
--                  YYYYMMDD day (used only to pick the labeler's name, as NULL = oldest).
WITH
{{> labeler_fda_ndc_candidates}}
SELECT
  count(*) AS rows_read,
  count_if(ndc_exclude_flag = 'E') AS excluded,
  count_if(reason_code = 'accepted') AS aggregated,
  count_if(
    ndc_exclude_flag = 'N'
    AND trim(BOTH ' ' FROM startmarketingdate) <> ''
    AND NOT (regexp_like(trim(BOTH ' ' FROM startmarketingdate), '^[0-9]{8}$')
             AND try(date_parse(trim(BOTH ' ' FROM startmarketingdate), '%Y%m%d')) IS NOT NULL)
  ) AS invalid_dates
FROM classified
