-- Layer 2: the rejects of ONE LABELER batch into s3://<bucket>/staging_rejects/LABELER/<batch id>/
-- (read through staging.labeler_rejects). Product rows end in exactly one place: aggregated into
-- a staged labeler | rejected here | excluded (flag 'E', only counted).
-- Reasons: see "classified" (fragment labeler_fda_ndc_candidates, which the batch CTAS inlines
-- too, so the rows it stages are exactly the 'accepted' ones).
-- ref: https://docs.aws.amazon.com/athena/latest/ug/considerations-ctas.html
{{> staging_ctas rejects}}
WITH
{{> labeler_fda_ndc_candidates}}
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
