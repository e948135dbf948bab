-- [fragment drug_fda_ndc_ranked] CTEs paired .. ranked: the staged form of each row of
-- ranking_input (a CTE of accepted rows that the including statement defines) and its rank among
-- the rows of its ndc. Inlined into the batch CTAS (every accepted row; rank 1 is staged) and the
-- rejects CTAS (the rows of keys listed more than once; rank > 1 are the duplicates), so both use
-- one cleaning, one fingerprint and one de-duplication rule. Whitespace class: see
-- drug_fda_ndc_candidates above.
--
-- Text fields are cleaned by ONE rule, the expression fragment clean_text (written once,
-- inlined per column by an include naming the column): whitespace runs -> one space, then the (at
-- most one) leading/trailing space removed; then '' -> NULL in "business". Case is kept.
-- strength_raw: the numerators and units paired (the rule is in "cleaned" below).
-- listed_twice: the row's ndc is listed more than once in ranking_input; only such rows are
-- ranked (see "ranked"). A GROUP BY finds those keys more cheaply than a window over every row.
repeated AS (
  SELECT ndc
  FROM ranking_input
  GROUP BY ndc
  HAVING count(*) > 1
),
flagged AS (
  SELECT
    r.*,
    k.ndc IS NOT NULL AS listed_twice
  FROM ranking_input r
  LEFT JOIN repeated k
    ON k.ndc = r.ndc
),
paired AS (
  SELECT
    r.*,
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
    END AS strength_raw
  FROM flagged r
),
cleaned AS (
  SELECT
    _source_file,
    _source_row,
    listed_twice,
    productid,
    ndc,
    {{> clean_text proprietaryname}} AS proprietary_name,
    {{> clean_text substancename}} AS ingredient_list,
    -- strength: numerators and units are '; '-separated lists in ingredient order (split on
    -- '; ' exactly, as FDA joins them; only SUBSTANCENAME/LABELERNAME hold a bare ';' inside a
    -- value, and those are never split). Equal counts: 'n1 u1; n2 u2'. Different counts (2 rows
    -- in 2019-04-29) cannot be paired, so the two raw values are kept side by side: 'N U'.
    -- The outer whitespace clean-up also drops the ' ' of a pair whose unit or number is empty.
    -- (numerators / units are the two lists split once, in "accepted"; strength_raw pairs them
    -- in "paired".)
    {{> clean_text strength_raw}} AS strength,
    {{> clean_text routename}} AS route,
    {{> clean_text nonproprietaryname}} AS nonproprietary_name,
    {{> clean_text dosageformname}} AS dosage_form,
    {{> clean_text labelername}} AS labeler_name,
    {{> clean_text productndc}} AS product_ndc,
    {{> clean_text ndcpackagecode}} AS package_ndc,
    {{> clean_text packagedescription}} AS package_description,
    {{> clean_text producttypename}} AS product_type,
    {{> clean_text marketingcategoryname}} AS marketing_category,
    {{> clean_text applicationnumber}} AS application_number,
    {{> clean_text deaschedule}} AS dea_schedule,
    -- not a DRUG field today; here so a spec that adds it (schema evolution) stages it
    {{> clean_text pharm_classes}} AS pharm_classes,
    -- Dates are YYYYMMDD; the shape check keeps date_parse from accepting other lengths, and
    -- try() turns an impossible day (20190231) into NULL instead of failing the batch.
    -- stage_drug_fda_ndc_counts.sql counts the values that became NULL this way. Only spaces are
    -- trimmed, on both engines (see product_code in drug_fda_ndc_candidates).
    CASE WHEN regexp_like(trim(BOTH ' ' FROM startmarketingdate), '^[0-9]{8}$')
      THEN CAST(try(date_parse(trim(BOTH ' ' FROM startmarketingdate), '%Y%m%d')) AS date) END AS marketing_start_date,
    CASE WHEN regexp_like(trim(BOTH ' ' FROM endmarketingdate), '^[0-9]{8}$')
      THEN CAST(try(date_parse(trim(BOTH ' ' FROM endmarketingdate), '%Y%m%d')) AS date) END AS marketing_end_date,
    CASE WHEN regexp_like(trim(BOTH ' ' FROM package_start_raw), '^[0-9]{8}$')
      THEN CAST(try(date_parse(trim(BOTH ' ' FROM package_start_raw), '%Y%m%d')) AS date) END AS package_start_date
  FROM paired
),
-- '' -> NULL for every text field (after trimming), so '' and missing are one value.
business AS (
  SELECT
    _source_file,
    _source_row,
    listed_twice,
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
    nullif(pharm_classes, '') AS pharm_classes,
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
-- Only the rows of keys listed more than once are ranked: a key listed once is its own winner,
-- and ranking within a key does not depend on other keys. Both branches filter on a column
-- passed through from "flagged", so an engine cleans each row once and sorts only the few
-- repeated ones (a window over all 180,000 rows of a full file was a third of the CTAS's time).
ranked AS (
  SELECT
    f.*,
    1 AS rank_in_ndc
  FROM fingerprinted f
  WHERE NOT f.listed_twice
  UNION ALL
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
  WHERE f.listed_twice
)
