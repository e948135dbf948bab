-- Layer 2: the rejects of ONE LABELER batch into s3://<bucket>/staging_rejects/LABELER/<batch id>/
-- (read through staging.labeler_rejects). Product rows end in exactly one place: aggregated into
-- a staged labeler | rejected here | excluded (flag 'E', only counted).
-- Reasons (first failing check wins, same order as the "accepted" filter of
-- stage_labeler_fda_ndc.sql):
--   bad_exclude_flag   product NDC_EXCLUDE_FLAG is neither 'N' nor 'E'
--   bad_labeler_code   PRODUCTNDC does not start with a 4- or 5-digit labeler code
-- ref: https://docs.aws.amazon.com/athena/latest/ug/considerations-ctas.html
CREATE TABLE {{staging_db}}.{{rejects_ctas_table}}
WITH (
  format = 'PARQUET',
  write_compression = 'SNAPPY',
  external_location = '{{rejects_location}}'
) AS
WITH
product AS (
  SELECT
    productid,
    productndc,
    trim(productndc) AS product_code,
    ndc_exclude_flag,
    _source_file,
    _source_row
  FROM {{raw_product_table}}
  WHERE ingest_date = {{ingest_date}}
),
classified AS (
  SELECT
    p.*,
    CASE
      WHEN ndc_exclude_flag = 'E' THEN 'excluded'
      WHEN ndc_exclude_flag IS DISTINCT FROM 'N' THEN 'bad_exclude_flag'
      WHEN NOT regexp_like(product_code, '^[0-9]{4,5}-') THEN 'bad_labeler_code'
      ELSE 'accepted'
    END AS reason_code
  FROM product p
)
SELECT
  reason_code,
  CASE reason_code
    WHEN 'bad_exclude_flag'
      THEN 'product NDC_EXCLUDE_FLAG is ''' || coalesce(ndc_exclude_flag, '') || ''', expected N or E'
    ELSE 'PRODUCTNDC ''' || coalesce(productndc, '') || ''' does not start with a 4- or 5-digit labeler code'
  END AS reason,
  'product' AS source_member,
  _source_file AS source_file,
  _source_row AS source_row,
  productndc AS raw_value,
  CAST(NULL AS varchar) AS entity_key,
  {{file_date}} AS source_file_date,
  {{ingestion_timestamp}} AS ingestion_timestamp,
  {{batch_id}} AS ingestion_batch_id,
  {{source_system}} AS source_system
FROM classified
WHERE reason_code NOT IN ('accepted', 'excluded')
