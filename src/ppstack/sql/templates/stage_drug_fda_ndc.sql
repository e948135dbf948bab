-- Layer 2: stage ONE batch of DRUG from one FDA NDC Directory delivery (raw renditions of
-- product.txt + package.txt for one ingest_date) into s3://<bucket>/staging/DRUG/<batch id>/.
--
-- One CTAS writes the batch's Parquet files into a fresh, empty prefix (Athena refuses a
-- non-empty external_location, HIVE_PATH_ALREADY_EXISTS, so a batch can never be overwritten);
-- pipeline.stage drops the CTAS table afterwards and the files are read through the stable
-- table staging.drug_batch (partition projection on ingestion_batch_id).
-- ref: https://docs.aws.amazon.com/athena/latest/ug/considerations-ctas.html
--
-- Rules (DESIGN.md "Entities"), in the order the CTEs apply them:
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
-- Every rule that decides WHICH rows are staged is repeated verbatim in
-- stage_drug_fda_ndc_rejects.sql (Athena has no macros and one statement per file); a test
-- asserts rows read = staged + duplicates + rejected + excluded, so the two cannot drift apart.
--
-- Whitespace: the character class used below, written once here for reference, is exactly the
-- set Python's str.strip()/str.split() treat as whitespace (so SQL and keys.normalize_ndc agree):
--   [\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]
-- \x{...} escapes mean the same in Java regex (Athena) and RE2 (DuckDB locally).
CREATE TABLE {{staging_db}}.{{ctas_table}}
WITH (
  format = 'PARQUET',
  write_compression = 'SNAPPY',
  external_location = '{{staging_location}}'
) AS
WITH
-- The delivery: one ingest_date partition of each rendition (the equality also prunes the
-- 'date' partition projection to a single folder).
package AS (
  SELECT
    productid,
    ndcpackagecode,
    packagedescription,
    startmarketingdate AS package_start_raw,
    _source_row
  FROM {{raw_package_table}}
  WHERE ingest_date = {{ingest_date}}
),
product AS (
  SELECT *
  FROM {{raw_product_table}}
  WHERE ingest_date = {{ingest_date}}
),
-- LEFT JOIN so a package without a product row is seen (and rejected), never silently lost.
-- PRODUCTID is unique in the product file (SOURCES.md), so this never multiplies rows.
joined AS (
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
    p.ndc_exclude_flag,
    -- the package code with surrounding whitespace removed (Python's str.strip())
    -- (regexp_like first: almost no code has edge whitespace, and a match is cheaper than a replace)
    CASE WHEN regexp_like(k.ndcpackagecode, '^[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]|[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]$')
      THEN regexp_replace(k.ndcpackagecode, '^[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+|[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+$', '')
      ELSE k.ndcpackagecode
    END AS code,
    trim(p.productndc) AS product_code
  FROM package k
  LEFT JOIN product p ON p.productid = k.productid
),
keyed AS (
  SELECT
    j.*,
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
    END AS ndc,
    -- The product NDC as 9 digits (labeler 5 + product 4), to check the package belongs to it.
    CASE
      WHEN regexp_like(product_code, '^[0-9]{4}-[0-9]{4}$')
        THEN '0' || substr(product_code, 1, 4) || substr(product_code, 6, 4)
      WHEN regexp_like(product_code, '^[0-9]{5}-[0-9]{3}$')
        THEN substr(product_code, 1, 5) || '0' || substr(product_code, 7, 3)
      WHEN regexp_like(product_code, '^[0-9]{5}-[0-9]{4}$')
        THEN substr(product_code, 1, 5) || substr(product_code, 7, 4)
    END AS product_ndc9
  FROM joined j
),
-- Only rows that pass every check go on; the same CASE, in the same order, decides the reason
-- in stage_drug_fda_ndc_rejects.sql.
accepted AS (
  SELECT
    keyed.*,
    split(active_numerator_strength, '; ') AS numerators,
    split(active_ingred_unit, '; ') AS units
  FROM keyed
  WHERE product_productid IS NOT NULL        -- else reject 'no_product'
    AND ndc_exclude_flag = 'N'               -- 'E' = excluded; anything else: 'bad_exclude_flag'
    AND ndc IS NOT NULL                      -- else reject 'bad_ndc'
    AND substr(ndc, 1, 9) = product_ndc9     -- else reject 'ndc_product_mismatch'
),
-- Text fields cleaned: whitespace runs -> one space, then the (at most one) leading/trailing
-- space removed, '' -> NULL. Case is kept. The cheap regexp_like first finds the few values that
-- need it (double space, edge space, or any whitespace other than ' '); the rest are already
-- clean, and skipping two regexp_replace calls on them halves the CTAS time.
cleaned AS (
  SELECT
    _source_row,
    productid,
    ndc,
    CASE WHEN regexp_like(proprietaryname, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(proprietaryname, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE proprietaryname END AS proprietary_name,
    CASE WHEN regexp_like(substancename, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(substancename, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE substancename END AS ingredient_list,
    -- strength: numerators and units are '; '-separated lists in ingredient order (split on
    -- '; ' exactly, as FDA joins them; only SUBSTANCENAME/LABELERNAME hold a bare ';' inside a
    -- value, and those are never split). Equal counts: 'n1 u1; n2 u2'. Different counts (2 rows
    -- in 2019-04-29) cannot be paired, so the two raw values are kept side by side: 'N U'.
    -- The outer whitespace clean-up also drops the ' ' of a pair whose unit or number is empty.
    -- (numerators / units are the two lists split once, in "accepted".)
    regexp_replace(regexp_replace(
      CASE
        WHEN cardinality(numerators)
           = cardinality(units)
          THEN array_join(
            transform(
              sequence(1, cardinality(numerators)),
              i -> element_at(numerators, i) || ' '
                   || element_at(units, i)
            ),
            '; ')
        ELSE active_numerator_strength || ' ' || active_ingred_unit
      END,
      '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '') AS strength,
    CASE WHEN regexp_like(routename, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(routename, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE routename END AS route,
    CASE WHEN regexp_like(nonproprietaryname, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(nonproprietaryname, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE nonproprietaryname END AS nonproprietary_name,
    CASE WHEN regexp_like(dosageformname, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(dosageformname, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE dosageformname END AS dosage_form,
    CASE WHEN regexp_like(labelername, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(labelername, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE labelername END AS labeler_name,
    CASE WHEN regexp_like(productndc, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(productndc, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE productndc END AS product_ndc,
    CASE WHEN regexp_like(ndcpackagecode, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(ndcpackagecode, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE ndcpackagecode END AS package_ndc,
    CASE WHEN regexp_like(packagedescription, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(packagedescription, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE packagedescription END AS package_description,
    CASE WHEN regexp_like(producttypename, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(producttypename, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE producttypename END AS product_type,
    CASE WHEN regexp_like(marketingcategoryname, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(marketingcategoryname, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE marketingcategoryname END AS marketing_category,
    CASE WHEN regexp_like(applicationnumber, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(applicationnumber, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE applicationnumber END AS application_number,
    CASE WHEN regexp_like(deaschedule, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
      THEN regexp_replace(regexp_replace(deaschedule, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
      ELSE deaschedule END AS dea_schedule,
    -- Dates are YYYYMMDD; the shape check keeps date_parse from accepting other lengths, and
    -- try() turns an impossible day (20190231) into NULL instead of failing the batch.
    -- stage_drug_fda_ndc_counts.sql counts the values that became NULL this way.
    CASE WHEN regexp_like(trim(startmarketingdate), '^[0-9]{8}$')
      THEN CAST(try(date_parse(trim(startmarketingdate), '%Y%m%d')) AS date) END AS marketing_start_date,
    CASE WHEN regexp_like(trim(endmarketingdate), '^[0-9]{8}$')
      THEN CAST(try(date_parse(trim(endmarketingdate), '%Y%m%d')) AS date) END AS marketing_end_date,
    CASE WHEN regexp_like(trim(package_start_raw), '^[0-9]{8}$')
      THEN CAST(try(date_parse(trim(package_start_raw), '%Y%m%d')) AS date) END AS package_start_date
  FROM accepted
),
-- '' -> NULL for every text field (after trimming), so '' and missing are one value.
business AS (
  SELECT
    _source_row,
    productid,
    package_start_date,
    ndc,
    nullif(proprietary_name, '') AS proprietary_name,
    nullif(ingredient_list, '') AS ingredient_list,
    nullif(strength, '') AS strength,
    nullif(route, '') AS route,
    nullif(nonproprietary_name, '') AS nonproprietary_name,
    nullif(dosage_form, '') AS dosage_form,
    nullif(labeler_name, '') AS labeler_name,
    nullif(product_ndc, '') AS product_ndc,
    nullif(package_ndc, '') AS package_ndc,
    nullif(package_description, '') AS package_description,
    nullif(product_type, '') AS product_type,
    nullif(marketing_category, '') AS marketing_category,
    nullif(application_number, '') AS application_number,
    nullif(dea_schedule, '') AS dea_schedule,
    marketing_start_date,
    marketing_end_date
  FROM cleaned
),
fingerprinted AS (
  SELECT
    b.*,
    {{fingerprint_expr}} AS fingerprint
  FROM business b
),
-- De-duplication, one row per ndc. The same package code can be listed by two SPL versions of
-- a product (18 codes in 2019-04-29), and two published shapes can normalise to one ndc. The
-- row kept is the listing a pharmacist would call current:
--   1. latest product marketing start date (the newest listing of the product), NULLs last;
--   2. then latest package marketing start date, NULLs last;
--   3. then the greater PRODUCTID (a stable, arbitrary but deterministic tie-break);
--   4. then the smaller fingerprint, then the earlier source row (total order: same input,
--      same winner, on every engine).
-- The losers are written to staging.drug_rejects with reason_code 'duplicate' and counted.
ranked AS (
  SELECT
    f.*,
    row_number() OVER (
      PARTITION BY ndc
      ORDER BY
        marketing_start_date DESC NULLS LAST,
        package_start_date DESC NULLS LAST,
        productid DESC,
        fingerprint ASC,
        _source_row ASC
    ) AS rank_in_ndc
  FROM fingerprinted f
)
SELECT
  {{business_columns}},
  -- lineage: the batch's business date E is the date the FDA published the file
  {{effective_date}} AS source_effective_date,
  {{file_date}} AS source_file_date,
  {{ingestion_timestamp}} AS ingestion_timestamp,
  {{batch_id}} AS ingestion_batch_id,
  fingerprint,
  {{source_system}} AS source_system
FROM ranked
WHERE rank_in_ndc = 1
