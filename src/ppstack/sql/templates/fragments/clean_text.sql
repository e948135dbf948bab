-- [fragment clean_text] The whitespace rule for one text value, written once and inlined per
-- column by an include naming the column (these comment lines are not inlined): whitespace runs ->
-- one space, then the (at most one) leading/trailing space removed; case is kept. The class is
-- Python's str.split() whitespace (see drug_fda_ndc_candidates), so SQL and Python agree.
-- Three cases; a clean value costs one class check and three LIKEs:
--   1. whitespace other than ' ' (tab, NBSP, ...) or a space at an edge: the whole rule;
--   2. only runs of ' ' inside (every FDA package description: "... (0002-3227-30)  > 30 ..."):
--      collapsing the runs is the whole rule, with a plain pattern instead of the Unicode class
--      (half the CPU time of the two replacements on that column);
--   3. anything else is already clean. NULL stays NULL (no WHEN holds).
CASE
  WHEN regexp_like({{@}}, '[\x{0009}-\x{000D}\x{001C}-\x{001F}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]')
    OR {{@}} LIKE ' %' OR {{@}} LIKE '% '
    THEN regexp_replace(regexp_replace({{@}}, '[\x{0009}-\x{000D}\x{001C}-\x{0020}\x{0085}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+', ' '), '^ | $', '')
  WHEN {{@}} LIKE '%  %' THEN regexp_replace({{@}}, '  +', ' ')
  ELSE {{@}}
END
