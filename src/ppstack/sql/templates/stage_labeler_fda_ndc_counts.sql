-- Layer 2: counts of one LABELER delivery the staged/rejected rows cannot give back:
--   rows_read      product rows of the delivery;
--   excluded       product rows with NDC_EXCLUDE_FLAG = 'E' (neither staged nor rejected);
--   aggregated     included product rows folded into staged labelers (one labeler has many
--                  products, so rows_read = aggregated + rejected + excluded);
--   invalid_dates  non-empty STARTMARKETINGDATE of included rows that is not a valid
--                  YYYYMMDD day (used only to pick the labeler's name, as NULL = oldest).
WITH
product AS (
  SELECT
    trim(productndc) AS product_code,
    trim(startmarketingdate) AS start_raw,
    ndc_exclude_flag
  FROM {{raw_product_table}}
  WHERE ingest_date = {{ingest_date}}
)
SELECT
  count(*) AS rows_read,
  count_if(ndc_exclude_flag = 'E') AS excluded,
  count_if(ndc_exclude_flag = 'N' AND regexp_like(product_code, '^[0-9]{4,5}-')) AS aggregated,
  count_if(
    ndc_exclude_flag = 'N'
    AND start_raw <> ''
    AND NOT (regexp_like(start_raw, '^[0-9]{8}$')
             AND try(date_parse(start_raw, '%Y%m%d')) IS NOT NULL)
  ) AS invalid_dates
FROM product
