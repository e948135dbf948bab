"""``pipeline.stage_rules`` states the staging SQL's accept rules in Python; hold them equal.

The expressions under test are cut out of the rendered ``stage_drug_fda_ndc`` statement itself
(the product NDC, the ``reason_code`` CASE of the ``classified`` CTE, the text cleaning of
``cleaned``) and executed by the real local engine over hypothesis-drawn values, so a change to
either side that the other does not follow fails here.
"""

from __future__ import annotations

import string
from typing import Any

import sqlglot
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from ppstack.engine.local import LocalEngine
from ppstack.pipeline import stage_rules
from ppstack.serving.keys import normalize_ndc
from ppstack.sql import load


def _expression(alias: str, skip_columns: bool = True) -> exp.Expression:
    text = load("stage_drug_fda_ndc").replace("{{", "x_").replace("}}", "")
    tree = sqlglot.parse_one(text, read="athena")
    for node in tree.find_all(exp.Alias):
        if node.alias == alias and not (skip_columns and isinstance(node.this, exp.Column)):
            return node.this
    raise AssertionError(f"no expression aliased {alias} in stage_drug_fda_ndc")


def _literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _evaluate(engine: LocalEngine, expression: exp.Expression, columns: tuple[str, ...],
              rows: list[tuple[Any, ...]]) -> list[Any]:
    values = ", ".join(f"({i}, " + ", ".join(_literal(v) for v in r) + ")"
                       for i, r in enumerate(rows))
    names = ", ".join(("i", *columns))
    sql = (f"SELECT i, {expression.sql('athena')} AS v FROM (VALUES {values}) AS t({names}) "
           "ORDER BY i")
    return [row[1] for row in engine.execute(sql).rows]


DIGITS = string.digits
PRODUCT_NDC = st.one_of(
    st.sampled_from([(4, 4), (5, 3), (5, 4), (4, 3), (6, 4), (5, 5)]).flatmap(
        lambda shape: st.tuples(*(st.text(DIGITS, min_size=n, max_size=n) for n in shape))
        .map("-".join)),
    st.text(DIGITS + "- a", max_size=11),
).flatmap(lambda code: st.sampled_from([code, f" {code}", f"{code}  "]))


def _product_ndc9_sql(engine: LocalEngine, codes: list[str]) -> list[str | None]:
    trimmed = _expression("product_code")  # trim(productndc)
    ndc9 = _expression("product_ndc9").transform(
        lambda n: trimmed.copy() if isinstance(n, exp.Column) and n.name == "product_code" else n)
    return _evaluate(engine, ndc9, ("productndc",), [(c,) for c in codes])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(PRODUCT_NDC, min_size=1, max_size=30))
def test_stage_rules_product_ndc9_matches_sql(engine: LocalEngine, codes: list[str]) -> None:
    assert _product_ndc9_sql(engine, codes) == [stage_rules.product_ndc9(c) for c in codes]


PACKAGE_FOR = st.sampled_from(["0002-3227-30", "00002-3227-30", "0002-3228-30", "12345-678-90",
                               "12345-0678-9", "bad", ""])
ROWS = st.tuples(PACKAGE_FOR, st.booleans(), st.sampled_from(["N", "E", "X", "", None]),
                 st.sampled_from(["0002-3227", "00002-3227", "12345-678", "12345-0678", "x"]))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ROWS, min_size=1, max_size=30))
def test_stage_rules_reason_code_matches_sql(engine: LocalEngine,
                                             rows: list[tuple[Any, ...]]) -> None:
    """The ``classified`` CASE over the values the SQL derives before it (each of those
    derivations is held equal to Python by its own test)."""
    case = _expression("reason_code")
    sql_rows = [("p" if found else None, flag, normalize_ndc(code),
                 stage_rules.product_ndc9(product)) for code, found, flag, product in rows]
    got = _evaluate(engine, case, ("product_productid", "ndc_exclude_flag", "ndc",
                                   "product_ndc9"), sql_rows)
    assert got == [stage_rules.reason_code(code, found, flag, product)
                   for code, found, flag, product in rows]
    for (code, _found, _flag, product), reason in zip(rows, got, strict=True):
        key = stage_rules.staged_key(code, product)
        if reason == stage_rules.ACCEPTED:
            assert key == normalize_ndc(code)
        elif reason in (stage_rules.BAD_NDC, stage_rules.NDC_PRODUCT_MISMATCH):
            assert key is None


# Any whitespace; and, drawn on their own, values whose only whitespace is ' ' (the rule's
# cheaper cases: a run inside, a space at an edge).
TEXT = st.one_of(st.text(st.sampled_from(list("ab Z\t\u00a0\u3000\u2003\x85é")), max_size=12),
                 st.text(st.sampled_from(list("ab  ")), max_size=12))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXT, min_size=1, max_size=30))
# each case of the rule (sql/templates/fragments/clean_text.sql), and NULL
@example(["a\t b ", "\u00a0a", " a  b ", "a  b", "a   ", " a", "a ", "a b", "", " ", "  ", None])
def test_stage_rules_clean_text_matches_sql(engine: LocalEngine, values: list[str | None]) -> None:
    cleaned = _expression("proprietary_name")
    got = _evaluate(engine, cleaned, ("proprietaryname",), [(v,) for v in values])
    # The SQL keeps '' here; NULL comes from a later NULLIF in the same statement.
    assert [g or None for g in got] == [stage_rules.clean_text(v) for v in values]
