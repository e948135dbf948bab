"""LocalEngine: Iceberg (S3 Tables) DDL, INSERT / MERGE / UPDATE / DELETE snapshots, time travel."""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest
from engine_sql import CONFORMED_DDL, Runner, parses_as_athena

from ppstack.engine.local import LocalEngine
from ppstack.errors import EngineError
from ppstack.settings import Settings

TS = "TIMESTAMP '2025-01-03 06:00:12.123456'"
SEED = f"""
INSERT INTO conformed.item (id, name, active_from, active_to, is_current, ingestion_timestamp,
                            ingestion_batch_id)
SELECT id, name, DATE '2025-01-03', DATE '9999-12-31', true, {TS}, 'b1'
FROM (VALUES ('a', 'A'), ('b', 'B'), ('c', 'C')) AS v(id, name)
"""

# The SCD2 close shape: source built from current rows, one per key.
CLOSE = """
MERGE INTO conformed.item AS t
USING (
    SELECT c.id FROM conformed.item AS c
    LEFT JOIN (VALUES ('a', 'A'), ('b', 'B2')) AS s(id, name) ON s.id = c.id
    WHERE c.is_current AND (s.id IS NULL OR s.name <> c.name)
) AS src
ON t.id = src.id AND t.is_current
WHEN MATCHED THEN UPDATE SET active_to = DATE '2025-01-04', is_current = false,
    ingestion_batch_id = 'b2'
"""


@pytest.fixture
def item(athena: Runner) -> Runner:
    athena(CONFORMED_DDL)
    athena(SEED)
    return athena


def snapshot_ids(engine: LocalEngine) -> list[int]:
    return [s["snapshot_id"] for s in engine.snapshots("conformed", "item")]


def test_create_iceberg_maps_types(athena: Runner, engine: LocalEngine) -> None:
    athena("CREATE TABLE conformed.typed (s string, d date, ts timestamp, b boolean, i int, "
           "l bigint, f double, m decimal(10,2)) TBLPROPERTIES ('table_type'='ICEBERG')")
    types = [str(f.field_type) for f in engine.iceberg_table("conformed", "typed").schema().fields]
    assert types == ["string", "date", "timestamp", "boolean", "int", "long", "double",
                     "decimal(10, 2)"]


def test_create_iceberg_if_not_exists_is_idempotent(athena: Runner, engine: LocalEngine) -> None:
    athena(CONFORMED_DDL)
    athena(CONFORMED_DDL)
    assert engine.snapshots("conformed", "item") == []
    with pytest.raises(EngineError, match="already exists"):
        athena(CONFORMED_DDL.replace(" IF NOT EXISTS", ""))


def test_create_iceberg_partitioned_by_identity(athena: Runner, engine: LocalEngine) -> None:
    athena("CREATE TABLE conformed.parts (id string, d date) PARTITIONED BY (d) "
           "TBLPROPERTIES ('table_type'='ICEBERG')")
    athena("INSERT INTO conformed.parts VALUES ('a', DATE '2025-01-03'), ('b', DATE '2025-01-04')")
    spec = engine.iceberg_table("conformed", "parts").spec()
    assert [str(f.transform) for f in spec.fields] == ["identity"]
    assert athena("SELECT id, d FROM conformed.parts ORDER BY id").rows == [
        ("a", date(2025, 1, 3)), ("b", date(2025, 1, 4))]
    athena("UPDATE conformed.parts SET id = 'z' WHERE id = 'a'")
    assert athena("SELECT id FROM conformed.parts ORDER BY id").rows == [("b",), ("z",)]


def test_create_table_without_location_or_iceberg_refused(athena: Runner) -> None:
    with pytest.raises(EngineError, match="table_type"):
        athena("CREATE TABLE conformed.x (id string)")


def test_insert_commits_exactly_one_snapshot(item: Runner, engine: LocalEngine) -> None:
    assert len(snapshot_ids(engine)) == 1
    r = item("INSERT INTO conformed.item (id, name) VALUES ('d', 'D'), ('e', 'E')")
    assert r.rowcount == 2
    snaps = engine.snapshots("conformed", "item")
    assert len(snaps) == 2 and snaps[-1]["operation"] == "append"
    assert snaps[-1]["summary"]["added-records"] == "2"


def test_insert_zero_rows_commits_nothing(item: Runner, engine: LocalEngine) -> None:
    r = item("INSERT INTO conformed.item (id) SELECT id FROM conformed.item WHERE id = 'nope'")
    assert r.rowcount == 0
    assert len(snapshot_ids(engine)) == 1


def test_insert_maps_listed_columns_and_nulls_the_rest(item: Runner) -> None:
    item("INSERT INTO conformed.item (name, id) VALUES ('D', 'd')")
    row = item("SELECT id, name, active_from, is_current, ingestion_timestamp FROM conformed.item "
               "WHERE id = 'd'").rows
    assert row == [("d", "D", None, None, None)]


def test_insert_round_trips_types(item: Runner) -> None:
    row = item("SELECT active_from, active_to, is_current, ingestion_timestamp FROM conformed.item "
               "WHERE id = 'a'").rows[0]
    assert row == (date(2025, 1, 3), date(9999, 12, 31), True,
                   datetime(2025, 1, 3, 6, 0, 12, 123456))


def test_merge_commits_one_snapshot_and_counts_rows(item: Runner, engine: LocalEngine) -> None:
    r = item(CLOSE)
    assert r.rowcount == 2  # b changed, c disappeared
    snaps = engine.snapshots("conformed", "item")
    assert len(snaps) == 2 and snaps[-1]["operation"] == "overwrite"
    rows = item("SELECT id, is_current, active_to, ingestion_batch_id FROM conformed.item "
                "ORDER BY id").rows
    assert rows == [("a", True, date(9999, 12, 31), "b1"), ("b", False, date(2025, 1, 4), "b2"),
                    ("c", False, date(2025, 1, 4), "b2")]


def test_merge_repeated_changes_nothing_and_commits_nothing(item: Runner,
                                                            engine: LocalEngine) -> None:
    item(CLOSE)
    assert item(CLOSE).rowcount == 0
    assert len(snapshot_ids(engine)) == 2


def test_merge_insert_update_delete_branches(item: Runner) -> None:
    r = item("""
        MERGE INTO conformed.item t
        USING (VALUES ('a', 'A2'), ('b', NULL), ('z', 'Z')) AS s(id, name) ON t.id = s.id
        WHEN MATCHED AND s.name IS NULL THEN DELETE
        WHEN MATCHED THEN UPDATE SET name = s.name
        WHEN NOT MATCHED THEN INSERT (id, name, is_current) VALUES (s.id, s.name, true)
    """)
    assert r.rowcount == 3
    assert item("SELECT id, name FROM conformed.item ORDER BY id").rows == [
        ("a", "A2"), ("c", "C"), ("z", "Z")]


def test_merge_target_row_matched_twice_is_error(item: Runner, engine: LocalEngine) -> None:
    with pytest.raises(EngineError, match="MERGE_TARGET_ROW_MULTIPLE_MATCHES"):
        item("MERGE INTO conformed.item t USING (VALUES ('a', 'X'), ('a', 'Y')) AS s(id, name) "
             "ON t.id = s.id WHEN MATCHED THEN UPDATE SET name = s.name")
    assert len(snapshot_ids(engine)) == 1
    assert item("SELECT name FROM conformed.item WHERE id = 'a'").scalar() == "A"


def test_merge_not_matched_by_source_refused(item: Runner) -> None:
    sql = ("MERGE INTO conformed.item t USING (VALUES ('a')) AS s(id) ON t.id = s.id "
           "WHEN NOT MATCHED BY SOURCE THEN DELETE")
    with pytest.raises(EngineError, match="NOT MATCHED BY SOURCE"):
        item(sql)


def test_update_and_delete_commit_one_snapshot_each(item: Runner, engine: LocalEngine) -> None:
    assert item("UPDATE conformed.item SET name = 'Z' WHERE id = 'a'").rowcount == 1
    assert item("DELETE FROM conformed.item WHERE id = 'b'").rowcount == 1
    assert item("DELETE FROM conformed.item WHERE id = 'nope'").rowcount == 0
    assert len(snapshot_ids(engine)) == 3
    assert item("SELECT id, name FROM conformed.item ORDER BY id").rows == [("a", "Z"), ("c", "C")]


def test_time_travel_by_version(item: Runner, engine: LocalEngine) -> None:
    first = snapshot_ids(engine)[0]
    item(CLOSE)
    old = item(f"SELECT count(*) FROM conformed.item FOR VERSION AS OF {first} "
               "WHERE is_current").scalar()
    new = item("SELECT count(*) FROM conformed.item WHERE is_current").scalar()
    assert (old, new) == (3, 1)


def test_time_travel_by_timestamp(item: Runner, engine: LocalEngine) -> None:
    time.sleep(0.01)  # distinct commit milliseconds, so "as of the first commit" is unambiguous
    item(CLOSE)
    first_at = engine.snapshots("conformed", "item")[0]["committed_at"]
    sql = (f"SELECT count(*) FROM conformed.item FOR TIMESTAMP AS OF "
           f"TIMESTAMP '{first_at:%Y-%m-%d %H:%M:%S.%f} UTC' WHERE is_current")
    assert item(sql).scalar() == 3
    with pytest.raises(EngineError, match="no snapshot"):
        item("SELECT * FROM conformed.item FOR TIMESTAMP AS OF TIMESTAMP '2000-01-01 00:00:00 UTC'")


def test_time_travel_unknown_version_is_error(item: Runner) -> None:
    with pytest.raises(EngineError, match="no snapshot 42"):
        item("SELECT * FROM conformed.item FOR VERSION AS OF 42")


def test_second_engine_sees_tables_and_commits(offline_settings: Settings, item: Runner,
                                               engine: LocalEngine) -> None:
    other = LocalEngine(offline_settings)
    try:
        assert other.execute("SELECT count(*) FROM conformed.item").scalar() == 3
        sql = "INSERT INTO conformed.item (id) VALUES ('from-other')"
        parses_as_athena(sql)
        other.execute(sql)
        # The first engine cached the old snapshot; it must notice the new one.
        assert item("SELECT count(*) FROM conformed.item").scalar() == 4
        assert len(other.snapshots("conformed", "item")) == 2
    finally:
        other.close()


def test_drop_iceberg_table(item: Runner) -> None:
    item("DROP TABLE conformed.item")
    with pytest.raises(EngineError, match="does not exist"):
        item("SELECT * FROM conformed.item")


def test_show_and_describe_iceberg_table(item: Runner) -> None:
    assert item("SHOW TABLES IN conformed").rows == [("item",)]
    assert item("DESCRIBE conformed.item").rows[0] == ("id", "string", "")


def test_select_join_iceberg_and_external(item: Runner, engine: LocalEngine) -> None:
    item("CREATE DATABASE staging")
    item("CREATE TABLE staging.ids WITH (format='PARQUET', "
         "external_location='s3://pp-archive/x/ids/') AS SELECT 'a' AS id")
    r = item("SELECT c.name FROM conformed.item c JOIN staging.ids s ON s.id = c.id")
    assert r.rows == [("A",)]


def test_create_iceberg_transform_without_pyiceberg_core_refused(athena: Runner) -> None:
    import importlib.util

    if importlib.util.find_spec("pyiceberg_core") is not None:
        pytest.skip("pyiceberg-core installed: transforms are supported")
    with pytest.raises(EngineError, match="pyiceberg-core"):
        athena("CREATE TABLE conformed.m (d date) PARTITIONED BY (month(d)) "
               "TBLPROPERTIES ('table_type'='ICEBERG')")
    with pytest.raises(EngineError, match="does not exist"):
        athena("SELECT * FROM conformed.m")


def test_merge_into_empty_table_commits_inserted_rows(athena: Runner, engine: LocalEngine) -> None:
    athena(CONFORMED_DDL)
    r = athena("MERGE INTO conformed.item t USING (VALUES ('a', 'A')) AS s(id, name) "
               "ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name)")
    assert r.rowcount == 1
    assert len(snapshot_ids(engine)) == 1
    assert athena("SELECT id, name FROM conformed.item").rows == [("a", "A")]


def test_select_accepts_aws_catalog_qualified_name(item: Runner) -> None:
    # table_ref on AWS quotes the S3 Tables catalog; the local engine ignores the catalog part.
    sql = 'SELECT count(*) FROM "s3tablescatalog/pp-tables"."conformed"."item"'
    assert item(sql).scalar() == 3
