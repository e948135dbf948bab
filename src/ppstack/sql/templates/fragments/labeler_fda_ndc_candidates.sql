-- [fragment labeler_fda_ndc_candidates] CTEs product .. classified: every product row of one
-- LABELER delivery with its labeler_code and the one reason_code that decides its fate. Inlined
-- (the same text) into the batch CTAS, the rejects CTAS and the counts query.
product AS (
  SELECT
    productid,
    productndc,
    trim(BOTH ' ' FROM productndc) AS product_code,
    labelername,
    startmarketingdate,
    ndc_exclude_flag,
    _source_file,
    _source_row
  FROM {{raw_product_table}}
  WHERE ingest_date = {{ingest_date}}
),
-- labeler_code = the first PRODUCTNDC segment (4 or 5 ASCII digits) zero-padded to 5, the same
-- rule as ppstack.serving.keys.normalize_labeler; anything else is a reject.
keyed AS (
  SELECT
    p.*,
    CASE WHEN regexp_like(product_code, '^[0-9]{4,5}-')
      THEN lpad(split_part(product_code, '-', 1), 5, '0')
    END AS labeler_code
  FROM product p
),
-- Reasons, first failing check wins; 'accepted' rows are folded into their labeler, 'excluded'
-- rows are neither staged nor rejected (only counted):
--   excluded           product NDC_EXCLUDE_FLAG = 'E'
--   bad_exclude_flag   product NDC_EXCLUDE_FLAG is neither 'N' nor 'E'
--   bad_labeler_code   PRODUCTNDC does not start with a 4- or 5-digit labeler code
classified AS (
  SELECT
    k.*,
    CASE
      WHEN ndc_exclude_flag = 'E' THEN 'excluded'
      WHEN ndc_exclude_flag IS DISTINCT FROM 'N' THEN 'bad_exclude_flag'
      WHEN labeler_code IS NULL THEN 'bad_labeler_code'
      ELSE 'accepted'
    END AS reason_code
  FROM keyed k
)
