-- Layer 2: stage ONE batch of LABELER from one FDA NDC Directory delivery into
-- s3://<bucket>/staging/LABELER/<batch id>/ (read through staging.labeler_batch).
--
-- LABELER exists to prove an entity type is data: this template (plus _rejects, _counts and
-- fragments/labeler_fda_ndc_candidates.sql) is all it adds; pipeline.stage, the SCD2 steps and
-- sync are the same code as for DRUG.
--
-- Rules:
--   * source rows: products (product.txt) with NDC_EXCLUDE_FLAG = 'N' ('E' = excluded, counted);
--   * labeler_code = the first PRODUCTNDC segment (4 or 5 ASCII digits) zero-padded to 5, the
--     same rule as ppstack.serving.keys.normalize_labeler; anything else is a reject (these
--     two rules are the fragment labeler_fda_ndc_candidates, inlined into this statement,
--     stage_labeler_fda_ndc_rejects.sql and stage_labeler_fda_ndc_counts.sql);
--   * labeler_name = the name on the labeler's most recent listing: latest product marketing
--     start date, NULLs last, then the greater PRODUCTID (deterministic tie-break). A labeler's
--     name can differ between listings (renames, typos); the newest listing is the one the FDA
--     currently shows for it. Text trimmed, whitespace collapsed, '' -> NULL, case kept;
--   * product_count = distinct marketed PRODUCTNDC values of the labeler, as text (business
--     fields are text; the fingerprint covers it, so a new product changes the labeler);
--   * one row per labeler_code by construction (GROUP BY), so there are no duplicates to drop.
-- Fresh, empty external_location; the CTAS table is dropped afterwards.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/considerations-ctas.html
{{> staging_ctas staging}}
WITH
{{> labeler_fda_ndc_candidates}},
accepted AS (
  SELECT
    labeler_code,
    productid,
    product_code,
    _source_file,
    _source_row,
    -- DRUG's whitespace rule, written once in fragments/clean_text.sql
    nullif({{> clean_text labelername}}, '') AS labeler_name,
    CASE WHEN regexp_like(trim(BOTH ' ' FROM startmarketingdate), '^[0-9]{8}$')
      THEN CAST(try(date_parse(trim(BOTH ' ' FROM startmarketingdate), '%Y%m%d')) AS date) END AS start_date
  FROM classified
  WHERE reason_code = 'accepted'
),
named AS (
  SELECT
    labeler_code,
    labeler_name,
    _source_file,
    _source_row,
    row_number() OVER (
      PARTITION BY labeler_code
      ORDER BY start_date DESC NULLS LAST, productid DESC
    ) AS rank_in_labeler
  FROM accepted
),
-- DISTINCT is not allowed in Trino window aggregates, hence a separate GROUP BY.
counted AS (
  SELECT
    labeler_code,
    CAST(count(DISTINCT product_code) AS varchar) AS product_count
  FROM accepted
  GROUP BY labeler_code
),
business AS (
  SELECT
    n.labeler_code,
    n.labeler_name,
    c.product_count,
    n._source_file,
    n._source_row
  FROM named n
  JOIN counted c ON c.labeler_code = n.labeler_code
  WHERE n.rank_in_labeler = 1
)
SELECT
  {{business_columns}},
  {{> staging_lineage}},
  {{fingerprint_expr}} AS fingerprint,
  {{source_system}} AS source_system,
  -- lineage to the archive: the product row that named the labeler (ppstack lineage)
  _source_file,
  _source_row
FROM business
