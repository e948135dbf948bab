"""LocalEngine: routing, Athena -> DuckDB translation of queries, result values and errors."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from engine_sql import Runner

from ppstack.engine.base import Result
from ppstack.engine.local import LocalEngine
from ppstack.errors import EngineError


def test_select_returns_python_values(athena: Runner) -> None:
    r = athena("SELECT 'a' AS s, 1 AS i, true AS b, DATE '2019-04-29' AS d, "
               "TIMESTAMP '2025-01-03 06:00:12.123456' AS ts, 1.5e0 AS f, NULL AS n")
    assert r.columns == ["s", "i", "b", "d", "ts", "f", "n"]
    assert r.rows == [("a", 1, True, date(2019, 4, 29), datetime(2025, 1, 3, 6, 0, 12, 123456),
                       1.5, None)]


def test_select_trailing_semicolon_and_comments_accepted(athena: Runner) -> None:
    assert athena("-- leading comment\nSELECT 42 AS x; -- trailing comment\n").scalar() == 42


def test_select_with_cte(athena: Runner) -> None:
    assert athena("WITH a AS (SELECT 2 AS x) SELECT x * 3 FROM a").scalar() == 6


def test_ctes_named_once_are_inlined_and_the_result_is_the_same() -> None:
    """Athena inlines every WITH query; locally a CTE named once is NOT MATERIALIZED (DuckDB
    would otherwise hold its rows in memory a second time), one named twice is left to DuckDB,
    and the rows are those of the statement as written."""
    import sqlglot
    from sqlglot import exp

    from ppstack.engine.local import _inline_single_use_ctes

    sql = ("WITH once AS (SELECT x FROM UNNEST(sequence(1, 6)) AS u(x)), "
           "twice AS (SELECT x, x % 2 = 0 AS even FROM once), "
           "unused AS (SELECT 1 AS y) "
           "SELECT x FROM twice WHERE even UNION ALL SELECT -x FROM twice WHERE NOT even")
    tree = sqlglot.parse_one(sql, read="athena")
    _inline_single_use_ctes(tree)
    flags = {c.alias: c.args.get("materialized") for c in tree.find_all(exp.CTE)}
    assert flags == {"once": False, "twice": None, "unused": False}
    assert "once AS NOT MATERIALIZED" in tree.sql("duckdb")
    import duckdb

    rows = sorted(r[0] for r in duckdb.sql(tree.sql("duckdb")).fetchall())
    assert rows == [-5, -3, -1, 2, 4, 6]


@pytest.mark.parametrize(("expr", "expected"), [
    ("lower(to_hex(md5(to_utf8('abc'))))", "900150983cd24fb0d6963f7d28e17f72"),
    # the UTF-8 bytes are hashed: hashlib.md5("Abelló".encode()).hexdigest()
    ("lower(to_hex(md5(to_utf8('Abelló'))))", "5ad4f248ba62c71637f4e92f366d3224"),
    ("to_hex(md5(to_utf8('abc')))", "900150983CD24FB0D6963F7D28E17F72"),
    ("regexp_like('abc', '^a')", True),
    ("try(date_parse('2019XX', '%Y%m%d'))", None),
    ("CAST(date_parse('20190429', '%Y%m%d') AS date)", date(2019, 4, 29)),
    ("element_at(split('a;b;c', ';'), 2)", "b"),
    ("array_join(transform(sequence(1, 3), i -> CAST(i AS varchar)), ',')", "1,2,3"),
    ("concat_ws('|', coalesce(NULL, ''), 'x')", "|x"),
    ("slice(ARRAY[1, 2, 3, 4], 2, 2)", [2, 3]),
    ("codepoint('A')", 65),
    ("regexp_replace('a-b', '(a)-(b)', '$2$1')", "ba"),
    ("regexp_replace('a  b', '\\s+', ' ')", "a b"),
    ("CAST(DATE '2019-04-29' AS varchar)", "2019-04-29"),
])
def test_select_translates_athena_functions(athena: Runner, expr: str, expected: object) -> None:
    assert athena(f"SELECT {expr} AS v").scalar() == expected


def test_select_timestamp_with_time_zone_needs_no_pytz(athena: Runner) -> None:
    value = athena("SELECT CAST(TIMESTAMP '2025-01-03 06:00:00 UTC' AS timestamp with time zone)"
                   " AS t").scalar()
    assert value.year == 2025 and value.hour == 6 and value.utcoffset().total_seconds() == 0


def test_execute_unsupported_statement_names_kind(athena: Runner) -> None:
    with pytest.raises(EngineError, match="unsupported statement kind: ALTER TABLE"):
        athena("ALTER TABLE staging.t RENAME TO staging.u")


def test_execute_two_statements_refused(engine: LocalEngine) -> None:
    with pytest.raises(EngineError, match="one SQL statement"):
        engine.execute("SELECT 1; SELECT 2")


def test_execute_duckdb_error_is_engine_error_with_first_line(athena: Runner) -> None:
    with pytest.raises(EngineError, match=r"statement: SELECT CAST\('x' AS integer\)"):
        athena("SELECT CAST('x' AS integer)\nFROM (VALUES (1)) AS t(a)")


def test_execute_unknown_table_is_engine_error(athena: Runner) -> None:
    with pytest.raises(EngineError, match="staging.nope does not exist"):
        athena("SELECT * FROM staging.nope")


def test_table_ref_is_namespace_dot_table(engine: LocalEngine) -> None:
    assert engine.table_ref("conformed", "drug") == "conformed.drug"


def test_execute_after_close_is_engine_error(engine: LocalEngine, athena: Runner) -> None:
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        athena("SELECT 1")


@pytest.mark.parametrize("sql", [
    "SHOW CREATE TABLE conformed.item",
    "USE staging",
    "EXPLAIN SELECT 1",
])
def test_execute_other_statements_refused(athena: Runner, sql: str) -> None:
    with pytest.raises(EngineError, match="unsupported statement kind"):
        athena(sql)


def test_show_databases_lists_created_databases(athena: Runner) -> None:
    athena("CREATE DATABASE IF NOT EXISTS staging")
    athena("CREATE SCHEMA raw")
    assert athena("SHOW DATABASES").rows == [("raw",), ("staging",)]


def test_create_database_twice_without_if_not_exists_fails(athena: Runner) -> None:
    athena("CREATE DATABASE staging")
    with pytest.raises(EngineError, match="already exists"):
        athena("CREATE DATABASE staging")
    assert isinstance(athena("CREATE DATABASE IF NOT EXISTS staging"), Result)
