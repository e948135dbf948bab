"""One behaviour suite for the SQL engine port: the local engine and the Athena adapter.

The pipeline relies on these behaviours of the engine it is given (docs/data-rules.md): a CTAS
writes a batch into a fresh location and refuses a non-empty one (a batch is never overwritten);
a MERGE takes one source row per target row and refuses more; INSERT ... SELECT appends and
reports its row count; a conformed table can be read as of an Iceberg snapshot or an instant;
a statement the engine cannot run is refused with ``EngineError``, never half-done.

The ``athena`` leg runs ``AthenaEngine`` on a stubbed Athena client that executes on a local
engine (``athena_double``): it holds the adapter to carrying each behaviour through the Athena
API conversation (states, failure reasons, typed results, ``UpdateCount``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from athena_double import AthenaOverLocal

from ppstack.engine.athena import AthenaEngine
from ppstack.engine.base import SqlEngine
from ppstack.engine.local import LocalEngine
from ppstack.errors import EngineError
from ppstack.settings import Settings
from ppstack.sql.timetravel import in_force, system_time


@dataclass
class Port:
    engine: SqlEngine  # the implementation under test
    local: LocalEngine  # where the data lives (the same engine, or the one behind the double)
    bucket_dir: Path

    def run(self, sql: str) -> list[tuple]:
        return self.engine.execute(sql).rows

    @property
    def item(self) -> str:
        return self.engine.table_ref("conformed", "item")


@pytest.fixture(params=["local", "athena"])
def port(request: pytest.FixtureRequest, offline_settings: Settings) -> Iterator[Port]:
    local = LocalEngine(offline_settings)
    bucket_dir = offline_settings.home_path / "s3" / offline_settings.bucket
    if request.param == "local":
        engine: SqlEngine = local
    else:
        engine = AthenaEngine(offline_settings.with_(backend="aws"), AthenaOverLocal(local),
                              sleep=lambda _s: None)
    p = Port(engine, local, bucket_dir)
    p.run("CREATE DATABASE IF NOT EXISTS staging")
    p.run(f"CREATE TABLE IF NOT EXISTS {p.item} (id string, name string, active_from date, "
          "active_to date, is_current boolean) TBLPROPERTIES ('table_type' = 'ICEBERG')")
    yield p
    local.close()


def _ctas(name: str, prefix: str, select: str) -> str:
    return (f"CREATE TABLE staging.{name} WITH (format = 'PARQUET', "
            f"external_location = 's3://pp-archive/{prefix}') AS {select}")


ROWS = "SELECT * FROM (VALUES ('a', 'Alpha'), ('b', 'Beta')) AS t(id, name)"


def test_sql_engine_ctas_writes_a_fresh_location_and_reports_rows(port: Port) -> None:
    result = port.engine.execute(_ctas("b1", "staging/ITEM/b1/", ROWS))
    assert result.rowcount == 2
    assert sorted(port.run("SELECT id, name FROM staging.b1")) == [("a", "Alpha"), ("b", "Beta")]


def test_sql_engine_ctas_refuses_a_non_empty_location(port: Port) -> None:
    port.run(_ctas("b1", "staging/ITEM/b1/", ROWS))
    files = sorted((port.bucket_dir / "staging/ITEM/b1").iterdir())
    with pytest.raises(EngineError, match="HIVE_PATH_ALREADY_EXISTS"):
        port.run(_ctas("b1_again", "staging/ITEM/b1/", "SELECT 'c' AS id, 'Gamma' AS name"))
    assert sorted((port.bucket_dir / "staging/ITEM/b1").iterdir()) == files  # untouched


def _load(port: Port) -> None:
    port.run(f"INSERT INTO {port.item} VALUES ('a', 'Alpha', DATE '2025-01-01', "
             "DATE '9999-12-31', true), ('b', 'Beta', DATE '2025-01-01', DATE '9999-12-31', true)")


def test_sql_engine_insert_select_appends_and_counts(port: Port) -> None:
    result = port.engine.execute(
        f"INSERT INTO {port.item} SELECT id, name, DATE '2025-01-01', DATE '9999-12-31', true "
        f"FROM ({ROWS})")
    assert result.rowcount == 2
    rows = port.run(f"SELECT id, active_from, is_current FROM {port.item} ORDER BY id")
    assert rows == [("a", date(2025, 1, 1), True), ("b", date(2025, 1, 1), True)]


def test_sql_engine_merge_one_source_row_per_target_row(port: Port) -> None:
    _load(port)
    result = port.engine.execute(
        f"MERGE INTO {port.item} AS t USING (SELECT 'a' AS id) AS s "
        "ON t.id = s.id AND t.is_current "
        "WHEN MATCHED THEN UPDATE SET active_to = DATE '2025-02-01', is_current = false")
    assert result.rowcount == 1
    assert port.run(f"SELECT id, active_to, is_current FROM {port.item} ORDER BY id") == [
        ("a", date(2025, 2, 1), False), ("b", date(9999, 12, 31), True)]


def test_sql_engine_merge_refuses_two_source_rows_for_one_target_row(port: Port) -> None:
    _load(port)
    before = port.run(f"SELECT * FROM {port.item} ORDER BY id")
    with pytest.raises(EngineError):
        port.run(f"MERGE INTO {port.item} AS t USING (SELECT * FROM (VALUES ('a', 'X'), "
                 "('a', 'Y')) AS v(id, name)) AS s ON t.id = s.id "
                 "WHEN MATCHED THEN UPDATE SET name = s.name")
    assert port.run(f"SELECT * FROM {port.item} ORDER BY id") == before  # nothing half-done


def test_sql_engine_snapshot_and_as_of_reads(port: Port) -> None:
    _load(port)
    first = port.local.snapshots("conformed", "item")[-1]["snapshot_id"]
    time.sleep(0.01)
    between = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    time.sleep(0.01)
    port.run(f"UPDATE {port.item} SET name = 'Alpha 2' WHERE id = 'a'")
    now = port.run(f"SELECT name FROM {port.item} WHERE id = 'a'")
    then = port.run(f"SELECT name FROM {port.item} FOR VERSION AS OF {first} WHERE id = 'a'")
    at = port.run(f"SELECT name FROM {port.item} {system_time(between)} WHERE id = 'a'")
    assert now == [("Alpha 2",)] and then == [("Alpha",)] and at == [("Alpha",)]
    in_force_rows = port.run(in_force(port.item, "2025-01-15"))
    assert sorted(r[0] for r in in_force_rows) == ["a", "b"]
    assert port.run(in_force(port.item, "2024-12-31")) == []  # before active_from


@pytest.mark.parametrize("sql", [
    "CREATE VIEW staging.v AS SELECT 1 AS x",  # not supported on S3 Tables or here
    "SELEC 1",  # not SQL
    "MERGE INTO staging.missing AS t USING (SELECT 1 AS id) AS s ON t.id = s.id "
    "WHEN MATCHED THEN DELETE",  # a table that does not exist
])
def test_sql_engine_refuses_unsupported_statements(port: Port, sql: str) -> None:
    with pytest.raises(EngineError):
        port.run(sql)
