-- [fragment clean_text] The whitespace rule for one text value, written once and inlined per
-- column by an include naming the column (these comment lines are not inlined): whitespace runs ->
-- one space, then the (at most one) leading/trailing space removed; case is kept. The class is
-- Python's str.split() whitespace (see drug_fda_ndc_candidates), so SQL and Python agree.
-- The cheap regexp_like first finds the few values that need it (double space, edge space, or
-- any whitespace other than ' '); the rest are already clean, and skipping the two
-- regexp_replace calls on them halves the staging CTAS time. NULL stays NULL.
CASE WHEN regexp_like({{@}}, '  |^ | $|[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
  THEN regexp_replace(regexp_replace({{@}}, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
  ELSE {{@}} END
