-- Layer 2: the rejects of ONE DRUG batch (FDA NDC Directory delivery) into
-- s3://<bucket>/staging_rejects/DRUG/<batch id>/, read through staging.drug_rejects.
--
-- Every package row of the delivery ends in exactly one of four places:
--   staged (stage_drug_fda_ndc.sql) | duplicate (here, reason_code 'duplicate') |
--   rejected (here, any other reason_code) | excluded (product NDC_EXCLUDE_FLAG = 'E': neither
--   staged nor rejected, only counted by stage_drug_fda_ndc_counts.sql).
-- So rows read = staged + duplicates + rejected + excluded, which tests assert.
--
-- The CTEs "package" .. "accepted" and "paired" .. "ranked" are the same fragments the batch
-- CTAS inlines (drug_fda_ndc_candidates, drug_fda_ndc_ranked); see stage_drug_fda_ndc.sql for
-- the rules. Reasons: see "classified"; plus
--   duplicate             lost the one-row-per-ndc rule to another listing
--
-- Same CTAS rules as the batch: a fresh, empty external_location; the table is dropped after.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/considerations-ctas.html
{{> staging_ctas rejects}}
WITH
{{> drug_fda_ndc_candidates}},
-- Only keys listed more than once can produce duplicates; ranking within a key does not
-- depend on other keys, so cleaning and fingerprinting just these rows gives the same losers.
-- (A GROUP BY finds those keys more cheaply than a count(*) window over every accepted row.)
ranking_input AS (
  SELECT *
  FROM accepted
  WHERE ndc IN (
    SELECT ndc
    FROM accepted
    GROUP BY ndc
    HAVING count(*) > 1
  )
),
{{> drug_fda_ndc_ranked}},
rejected AS (
  SELECT
    reason_code,
    CASE reason_code
      WHEN 'no_product' THEN 'package PRODUCTID ''' || coalesce(productid, '') || ''' has no product row in this delivery'
      WHEN 'bad_exclude_flag' THEN 'product NDC_EXCLUDE_FLAG is ''' || coalesce(ndc_exclude_flag, '') || ''', expected N or E'
      WHEN 'bad_ndc' THEN 'NDCPACKAGECODE ''' || coalesce(ndcpackagecode, '') || ''' is not an NDC of shape 4-4-2, 5-3-2, 5-4-1, 5-4-2 or 11 digits'
      ELSE 'package NDC ''' || coalesce(ndcpackagecode, '') || ''' does not belong to product NDC ''' || coalesce(productndc, '') || ''''
    END AS reason,
    _source_file,
    _source_row,
    ndcpackagecode AS raw_value,
    ndc AS entity_key
  FROM classified
  WHERE reason_code NOT IN ('accepted', 'excluded')
),
-- kept_productid names the winner of the ndc (rank 1) in the loser's reason.
winners AS (
  SELECT
    r.*,
    first_value(productid) OVER (PARTITION BY ndc ORDER BY rank_in_ndc) AS kept_productid
  FROM ranked r
),
duplicates AS (
  SELECT
    'duplicate' AS reason_code,
    'duplicate ndc ' || ndc || ': kept the listing of PRODUCTID ' || kept_productid
      || ' (newest product marketing start; rule in stage_drug_fda_ndc.sql)' AS reason,
    _source_file,
    _source_row,
    package_ndc AS raw_value,
    ndc AS entity_key
  FROM winners
  WHERE rank_in_ndc > 1
),
all_rejects AS (
  SELECT * FROM rejected
  UNION ALL
  SELECT * FROM duplicates
)
SELECT
  reason_code,
  reason,
  'package' AS source_member,
  _source_file AS source_file,
  _source_row AS source_row,
  raw_value,
  entity_key,
  {{file_date}} AS source_file_date,
  {{ingestion_timestamp}} AS ingestion_timestamp,
  {{batch_id}} AS ingestion_batch_id,
  {{source_system}} AS source_system
FROM all_rejects
