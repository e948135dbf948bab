-- [fragment drug_fda_ndc_ranked] CTEs cleaned .. ranked: the staged form of each row of
-- ranking_input (a CTE of accepted rows that the including statement defines) and its rank among
-- the rows of its ndc. Inlined into the batch CTAS (every accepted row; rank 1 is staged) and the
-- rejects CTAS (the rows of keys listed more than once; rank > 1 are the duplicates), so both use
-- one cleaning, one fingerprint and one de-duplication rule. Whitespace class: see
-- drug_fda_ndc_candidates above.
--
-- Text fields cleaned: whitespace runs -> one space, then the (at most one) leading/trailing
-- space removed, '' -> NULL. Case is kept. The cheap regexp_like first finds the few values that
-- need it (double space, edge space, or any whitespace other than ' '); the rest are already
-- clean, and skipping two regexp_replace calls on them halves the CTAS time.
cleaned AS (
  SELECT
    _source_file,
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
  FROM ranking_input
),
-- '' -> NULL for every text field (after trimming), so '' and missing are one value.
business AS (
  SELECT
    _source_file,
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
