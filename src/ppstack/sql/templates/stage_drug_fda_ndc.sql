-- Layer 2: stage ONE batch of DRUG from one FDA NDC Directory delivery (raw renditions of
-- product.txt + package.txt for one ingest_date) into s3://<bucket>/staging/DRUG/<batch id>/.
--
-- One CTAS writes the batch's Parquet files into a fresh, empty prefix (Athena refuses a
-- non-empty external_location, HIVE_PATH_ALREADY_EXISTS, so a batch can never be overwritten);
-- pipeline.stage drops the CTAS table afterwards and the files are read through the stable
-- table staging.drug_batch (partition projection on ingestion_batch_id).
-- ref: https://docs.aws.amazon.com/athena/latest/ug/considerations-ctas.html
--
-- Rules (docs/data-rules.md#entities), in the order the CTEs apply them:
--   1. one entity per package NDC: package joined to product on PRODUCTID, products with
--      NDC_EXCLUDE_FLAG = 'N' only ('E' = excluded: neither staged nor rejected);
--   2. NDCPACKAGECODE -> 11 digits (5-4-2): 4-4-2, 5-3-2, 5-4-1 pad the labeler, product,
--      package segment; 5-4-2 hyphenated and 11 plain digits are taken as they are; anything
--      else is a reject (stage_drug_fda_ndc_rejects.sql), never guessed. This is exactly
--      ppstack.serving.keys.normalize_ndc; tests/sql/test_ndc_property.py holds them equal;
--   3. text: trimmed, inner whitespace collapsed to one space, empty -> NULL, case kept;
--   4. one row per ndc (the de-duplication rule is at "ranked" below; losers are rejects with
--      reason_code 'duplicate');
--   5. fingerprint over the business fields in declared order (sql.params.fingerprint_expr).
--
-- The CTEs up to "accepted" and from "paired" to "ranked" are the fragments
-- drug_fda_ndc_candidates and drug_fda_ndc_ranked (sql/templates/fragments/), inlined by the
-- renderer into this statement and into stage_drug_fda_ndc_rejects.sql, so the rules that decide
-- WHICH rows are staged are written once; a test asserts
-- rows read = staged + duplicates + rejected + excluded.
{{> staging_ctas staging}}
WITH
{{> drug_fda_ndc_candidates}},
-- The batch cleans and ranks every accepted row.
ranking_input AS (
  SELECT *
  FROM accepted
),
{{> drug_fda_ndc_ranked}}
SELECT
  {{business_columns}},
  {{> staging_lineage}},
  fingerprint,
  {{source_system}} AS source_system,
  -- lineage to the archive: the package row this NDC was read from (ppstack lineage)
  _source_file,
  _source_row
FROM ranked
WHERE rank_in_ndc = 1
