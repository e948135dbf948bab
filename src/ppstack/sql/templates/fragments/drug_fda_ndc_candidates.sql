-- [fragment drug_fda_ndc_candidates] CTEs package .. accepted: every package row of one DRUG
-- delivery, joined to its product, keyed and given the one reason_code that decides its fate.
-- Inlined (the same text) into the batch CTAS, the rejects CTAS and the counts query, so which
-- rows are staged, rejected or excluded is decided in one place.
--
-- Whitespace: the character class used below, written once here for reference, is exactly the
-- set Python's str.strip()/str.split() treat as whitespace (so SQL and keys.normalize_ndc agree):
--   [\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]
-- \x{...} escapes mean the same in Java regex (Athena) and RE2 (DuckDB locally).
--
-- The delivery: one ingest_date partition of each rendition (the equality also prunes the
-- 'date' partition projection to a single folder).
package AS (
  SELECT
    productid,
    ndcpackagecode,
    packagedescription,
    startmarketingdate AS package_start_raw,
    _source_file,
    _source_row,
    -- the package code with surrounding whitespace removed (Python's str.strip())
    -- (regexp_like first: almost no code has edge whitespace, and a match is cheaper than a replace)
    CASE WHEN regexp_like(ndcpackagecode, '^[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]|[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]$')
      THEN regexp_replace(ndcpackagecode, '^[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+|[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+$', '')
      ELSE ndcpackagecode
    END AS code
  FROM {{raw_package_table}}
  WHERE ingest_date = {{ingest_date}}
),
product AS (
  SELECT
    *,
    -- spaces only, on both engines: Trino's one-argument trim() strips any Java whitespace
    -- (tab, newline, ...), DuckDB's only ' '; naming the character makes them agree (the
    -- staging templates trim dates the same way)
    trim(BOTH ' ' FROM productndc) AS product_code
  FROM {{raw_product_table}}
  WHERE ingest_date = {{ingest_date}}
),
-- Each side is keyed before the join: a package row's NDC depends on the package alone, the
-- 9-digit product NDC on the product alone. (The rejects CTAS reads "keyed" three times; an
-- engine that materializes a CTE with a join, like DuckDB locally, then runs the NDC regexes
-- once per row instead of once per reader: a quarter of the rejects CTAS's CPU time.)
package_keyed AS (
  SELECT
    k.*,
    -- NDC11: the segment lengths say which segment lost its leading zero ([0-9], not \d:
    -- ASCII digits only).
    CASE
      WHEN regexp_like(code, '^[0-9]{11}$') THEN code
      WHEN regexp_like(code, '^[0-9]{4}-[0-9]{4}-[0-9]{2}$')
        THEN '0' || substr(code, 1, 4) || substr(code, 6, 4) || substr(code, 11, 2)
      WHEN regexp_like(code, '^[0-9]{5}-[0-9]{3}-[0-9]{2}$')
        THEN substr(code, 1, 5) || '0' || substr(code, 7, 3) || substr(code, 11, 2)
      WHEN regexp_like(code, '^[0-9]{5}-[0-9]{4}-[0-9]{1}$')
        THEN substr(code, 1, 5) || substr(code, 7, 4) || '0' || substr(code, 12, 1)
      WHEN regexp_like(code, '^[0-9]{5}-[0-9]{4}-[0-9]{2}$')
        THEN substr(code, 1, 5) || substr(code, 7, 4) || substr(code, 12, 2)
    END AS ndc
  FROM package k
),
product_keyed AS (
  SELECT
    p.*,
    -- The product NDC as 9 digits (labeler 5 + product 4), to check the package belongs to it.
    CASE
      WHEN regexp_like(product_code, '^[0-9]{4}-[0-9]{4}$')
        THEN '0' || substr(product_code, 1, 4) || substr(product_code, 6, 4)
      WHEN regexp_like(product_code, '^[0-9]{5}-[0-9]{3}$')
        THEN substr(product_code, 1, 5) || '0' || substr(product_code, 7, 3)
      WHEN regexp_like(product_code, '^[0-9]{5}-[0-9]{4}$')
        THEN substr(product_code, 1, 5) || substr(product_code, 7, 4)
    END AS product_ndc9
  FROM product p
),
-- LEFT JOIN so a package without a product row is seen (and rejected), never silently lost.
-- PRODUCTID is unique in the product file (docs/data-rules.md#entities), so this does not
-- multiply rows; if a delivery ever repeated one, the one-row-per-NDC rule below still holds.
keyed AS (
  SELECT
    k.*,
    p.productid AS product_productid,
    p.productndc,
    p.producttypename,
    p.proprietaryname,
    p.nonproprietaryname,
    p.dosageformname,
    p.routename,
    p.startmarketingdate,
    p.endmarketingdate,
    p.marketingcategoryname,
    p.applicationnumber,
    p.labelername,
    p.substancename,
    p.active_numerator_strength,
    p.active_ingred_unit,
    p.deaschedule,
    p.pharm_classes,
    p.ndc_exclude_flag,
    p.product_ndc9
  FROM package_keyed k
  LEFT JOIN product_keyed p ON p.productid = k.productid
),
-- Reasons, first failing check wins; 'accepted' rows are staged (or lose the de-duplication,
-- reason_code 'duplicate'), 'excluded' rows are neither staged nor rejected (only counted):
--   no_product            package PRODUCTID has no product row in this delivery
--   excluded              product NDC_EXCLUDE_FLAG = 'E'
--   bad_exclude_flag      product NDC_EXCLUDE_FLAG is neither 'N' nor 'E'
--   bad_ndc               NDCPACKAGECODE does not normalise to 11 digits (never guessed)
--   ndc_product_mismatch  the package NDC does not start with its product's NDC
classified AS (
  SELECT
    k.*,
    CASE
      WHEN product_productid IS NULL THEN 'no_product'
      WHEN ndc_exclude_flag = 'E' THEN 'excluded'
      WHEN ndc_exclude_flag IS DISTINCT FROM 'N' THEN 'bad_exclude_flag'
      WHEN ndc IS NULL THEN 'bad_ndc'
      WHEN substr(ndc, 1, 9) IS DISTINCT FROM product_ndc9 THEN 'ndc_product_mismatch'
      ELSE 'accepted'
    END AS reason_code
  FROM keyed k
),
-- Only rows that pass every check go on: the checks of "classified", in the same order, as a
-- conjunction (cheaper than comparing the CASE, and the engine can filter the product rows on
-- ndc_exclude_flag before the join). The '; ' lists of strength are split once, here.
accepted AS (
  SELECT
    k.*,
    split(active_numerator_strength, '; ') AS numerators,
    split(active_ingred_unit, '; ') AS units
  FROM keyed k
  WHERE product_productid IS NOT NULL        -- else 'no_product'
    AND ndc_exclude_flag = 'N'               -- else 'excluded' ('E') or 'bad_exclude_flag'
    AND ndc IS NOT NULL                      -- else 'bad_ndc'
    AND substr(ndc, 1, 9) = product_ndc9     -- else 'ndc_product_mismatch'
)
