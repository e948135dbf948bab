-- [fragment clean_text] The whitespace rule for one text value, written once and inlined per
-- column by an include naming the column (these comment lines are not inlined): whitespace runs ->
-- one space, then the (at most one) leading/trailing space removed; case is kept. The class is
-- Python's str.split() whitespace (see drug_fda_ndc_candidates), so SQL and Python agree.
-- Four cases, tested in this order; a clean value costs one class check and three LIKEs:
--   1. whitespace other than ' ' (tab, NBSP, ...): the whole rule, with the Unicode class;
--   2. else a run of ' ' inside (a quarter of FDA package descriptions, "(0002-3227-30)  > 30"):
--      the runs collapsed with a plain pattern, then the edges trimmed of ' ';
--   3. else a ' ' at an edge (four in five FDA package descriptions have one): trimmed of ' ';
--   4. anything else is already clean. NULL stays NULL (no WHEN holds).
-- Cases 2 and 3 give what case 1 would (their only whitespace is ' ') without the Unicode
-- class's two replacements: half the time of the package description column.
-- trim names its character: see product_code in drug_fda_ndc_candidates.
CASE
  WHEN regexp_like({{@}}, '[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
    THEN regexp_replace(regexp_replace({{@}}, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
  WHEN {{@}} LIKE '%  %' THEN trim(BOTH ' ' FROM regexp_replace({{@}}, '  +', ' '))
  WHEN {{@}} LIKE ' %' OR {{@}} LIKE '% ' THEN trim(BOTH ' ' FROM {{@}})
  ELSE {{@}}
END
