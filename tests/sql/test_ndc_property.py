"""The staging SQL's NDC normalisation equals ``serving.keys.normalize_ndc`` (one rule, two copies).

The expression under test is cut out of ``stage_drug_fda_ndc.sql`` itself (the ``code`` and
``ndc`` columns), so the template is what is tested, executed by the real local engine: one
batched query per hypothesis example (a list of codes).
"""

from __future__ import annotations

import string

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from ppstack.engine.local import LocalEngine
from ppstack.serving.keys import normalize_ndc
from ppstack.sql import load


def _template_expressions() -> tuple[exp.Expression, exp.Expression]:
    """(code expression over ``ndcpackagecode``, ndc expression over ``code``) from the template."""
    tree = sqlglot.parse_one(load("stage_drug_fda_ndc").replace("{{", "x_").replace("}}", ""),
                             read="athena")
    found: dict[str, exp.Expression] = {}
    for alias in tree.find_all(exp.Alias):
        if alias.alias in ("code",
                           "ndc") and alias.alias not in found and not isinstance(alias.this,
                                                                                  exp.Column):
            found[alias.alias] = alias.this
    return found["code"], found["ndc"]


def sql_normalize(engine: LocalEngine, codes: list[str]) -> list[str | None]:
    code_expr, ndc_expr = _template_expressions()
    code_expr = code_expr.copy().transform(
        lambda n: exp.column("raw") if isinstance(n,
                                                  exp.Column) and n.name == "ndcpackagecode" else n)
    values = ", ".join(f"({i}, '{c.replace(chr(39), chr(39) * 2)}')" for i, c in enumerate(codes))
    sql = (f"SELECT i, {ndc_expr.sql('athena')} AS ndc FROM ("
           f"SELECT i, {code_expr.sql('athena')} AS code FROM (VALUES {values}) AS t(i, raw)) "
           f"ORDER BY i")
    return [row[1] for row in engine.execute(sql).rows]


DIGITS = string.digits
WHITESPACE = " \t\r\n\x0b\x0c\x1c\x85\xa0\u2003\u3000"


@st.composite
def shaped(draw: st.DrawFn) -> str:
    """Segments of digits with hyphens (valid shapes and near misses), maybe padded/corrupted."""
    lengths = draw(st.lists(st.integers(0, 6), min_size=1, max_size=4))
    code = "-".join(draw(st.text(DIGITS, min_size=n, max_size=n)) for n in lengths)
    if draw(st.booleans()):
        pad = st.text(WHITESPACE, max_size=2)
        code = draw(pad) + code + draw(pad)
    if draw(st.integers(0, 4)) == 0 and code:
        pos = draw(st.integers(0, len(code)))
        code = code[:pos] + draw(st.sampled_from(["a", "Z", " ", "-", "x1", "--"])) + code[pos:]
    return code


VALID = st.sampled_from([(4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2)]).flatmap(
    lambda shape: st.tuples(*(st.text(DIGITS, min_size=n,
                                      max_size=n) for n in shape)).map("-".join))
PLAIN = st.text(DIGITS, min_size=9, max_size=12)
NOISE = st.text(DIGITS + "-aZ" + WHITESPACE, max_size=16)
CODES = st.one_of(VALID, shaped(), PLAIN, NOISE)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(CODES, min_size=1, max_size=40))
def test_ndc_sql_matches_python_for_random_codes(engine: LocalEngine, codes: list[str]) -> None:
    assert sql_normalize(engine, codes) == [normalize_ndc(c) for c in codes]


@pytest.mark.parametrize(("code", "expected"), [
    ("0002-3227-30", "00002322730"),    # 4-4-2: pad the labeler
    ("50580-506-02", "50580050602"),    # 5-3-2: pad the product
    ("55154-1234-5", "55154123405"),    # 5-4-1: pad the package
    ("00002-3227-30", "00002322730"),   # 5-4-2 as is
    ("00002322730", "00002322730"),     # 11 plain digits
    (" 0002-3227-30 ", "00002322730"),  # surrounding whitespace ignored
    ("0002322730", None),               # 10 plain digits: shape lost, never guessed
    ("0002-3227-3O", None),             # letter O
    ("0002--3227-30", None),
    ("", None),
])
def test_ndc_sql_known_shapes(engine: LocalEngine, code: str, expected: str | None) -> None:
    assert sql_normalize(engine, [code]) == [expected] == [normalize_ndc(code)]
