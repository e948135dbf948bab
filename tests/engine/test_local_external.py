"""LocalEngine: Glue external tables over Parquet (partition projection), CTAS, INSERT, DROP."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from engine_sql import BATCH_1, BATCH_2, STAGING_DDL, Runner, parses_as_athena, write_parquet

from ppstack.engine.local import LocalEngine
from ppstack.errors import EngineError
from ppstack.layout import PARQUET_ROW_GROUP_ROWS
from ppstack.settings import Settings


@pytest.fixture
def staging(athena: Runner, bucket_dir: Path) -> Path:
    """staging.item_batch with two batches; batch 2 lacks ``qty`` and has an extra column."""
    athena("CREATE DATABASE IF NOT EXISTS staging")
    athena(STAGING_DDL)
    root = bucket_dir / "staging" / "ITEM"
    write_parquet(root / BATCH_1, "part-0.parquet", {
        "id": ["a", "b"], "name": ["A", "B"], "qty": [1, 2],
        "start_date": ["2019-04-29", "2019-04-30"],
        "ingestion_batch_id": ["ignored-file-value", "ignored-file-value"]})
    write_parquet(root / BATCH_2, "part-0.parquet", {
        "ID": ["c"], "name": ["C"], "start_date": ["2019-05-01"], "extra": ["x"]})
    return root


def test_external_equality_reads_that_partition_with_path_value(athena: Runner,
                                                                staging: Path) -> None:
    r = athena(f"SELECT id, name, qty, start_date, ingestion_batch_id FROM staging.item_batch "
               f"WHERE ingestion_batch_id = '{BATCH_1}' ORDER BY id")
    assert r.rows == [("a", "A", 1, date(2019, 4, 29), BATCH_1),
                      ("b", "B", 2, date(2019, 4, 30), BATCH_1)]


def test_external_matches_columns_by_name_missing_null_extra_ignored(athena: Runner,
                                                                     staging: Path) -> None:
    r = athena(f"SELECT * FROM staging.item_batch WHERE ingestion_batch_id = '{BATCH_2}'")
    assert r.columns == ["id", "name", "qty", "start_date", "ingestion_batch_id"]
    assert r.rows == [("c", "C", None, date(2019, 5, 1), BATCH_2)]


def test_external_equality_reads_only_the_pinned_partition(athena: Runner, staging: Path) -> None:
    # A partition that cannot be read: touching it would fail the query.
    (staging / "20250105T000000.000000Z").mkdir()
    (staging / "20250105T000000.000000Z" / "broken.parquet").write_bytes(b"not parquet")
    r = athena("SELECT count(*) FROM staging.item_batch s "
               f"WHERE s.ingestion_batch_id = '{BATCH_2}'")
    assert r.scalar() == 1
    with pytest.raises(EngineError, match="Parquet"):
        athena("SELECT count(*) FROM staging.item_batch")


def test_external_without_equality_reads_every_partition(athena: Runner, staging: Path) -> None:
    r = athena("SELECT ingestion_batch_id, count(*) FROM staging.item_batch GROUP BY 1 ORDER BY 1")
    assert r.rows == [(BATCH_1, 2), (BATCH_2, 1)]


def test_external_in_list_reads_listed_partitions(athena: Runner, staging: Path) -> None:
    r = athena(f"SELECT count(*) FROM staging.item_batch WHERE ingestion_batch_id IN ('{BATCH_1}', "
               f"'{BATCH_2}')")
    assert r.scalar() == 3


def test_external_empty_is_relation_with_declared_columns(athena: Runner) -> None:
    athena("CREATE DATABASE staging")
    athena(STAGING_DDL)
    r = athena(f"SELECT * FROM staging.item_batch WHERE ingestion_batch_id = '{BATCH_1}'")
    assert r.columns == ["id", "name", "qty", "start_date", "ingestion_batch_id"]
    assert r.rows == []
    assert athena("SELECT count(*) FROM staging.item_batch").scalar() == 0


def test_external_subquery_equality_pins_only_its_own_table(athena: Runner, staging: Path) -> None:
    r = athena(f"""
        SELECT a.id, b.id
        FROM (SELECT id FROM staging.item_batch WHERE ingestion_batch_id = '{BATCH_1}') AS a
        CROSS JOIN (SELECT id FROM staging.item_batch WHERE ingestion_batch_id = '{BATCH_2}') AS b
        ORDER BY 1""")
    assert r.rows == [("a", "c"), ("b", "c")]


def test_create_external_needs_database(athena: Runner) -> None:
    with pytest.raises(EngineError, match="database staging does not exist"):
        athena(STAGING_DDL)


def test_create_external_twice_without_if_not_exists_fails(athena: Runner, staging: Path) -> None:
    with pytest.raises(EngineError, match="already exists"):
        athena(STAGING_DDL.replace(" IF NOT EXISTS", ""))


def test_describe_and_show_tables_list_external_table(athena: Runner, staging: Path) -> None:
    assert athena("SHOW TABLES IN staging").rows == [("item_batch",)]
    assert athena("DESCRIBE staging.item_batch").rows[-1] == ("ingestion_batch_id", "string",
                                                              "partition key")


def test_drop_external_table_keeps_files(athena: Runner, staging: Path) -> None:
    athena("DROP TABLE staging.item_batch")
    assert (staging / BATCH_1 / "part-0.parquet").is_file()
    with pytest.raises(EngineError, match="does not exist"):
        athena("SELECT * FROM staging.item_batch")
    athena("DROP TABLE IF EXISTS staging.item_batch")
    with pytest.raises(EngineError, match="does not exist"):
        athena("DROP TABLE staging.item_batch")


def test_external_table_visible_to_second_engine(offline_settings: Settings, athena: Runner,
                                                 staging: Path) -> None:
    other = LocalEngine(offline_settings)
    try:
        sql = f"SELECT count(*) FROM staging.item_batch WHERE ingestion_batch_id = '{BATCH_1}'"
        parses_as_athena(sql)
        r = other.execute(sql)
        assert r.scalar() == 2
    finally:
        other.close()


CTAS = """
CREATE TABLE staging.item_ctas
WITH (format = 'PARQUET', external_location = 's3://pp-archive/staging/ITEM/{batch}/',
      write_compression = 'SNAPPY')
AS SELECT {select}
"""


def test_ctas_writes_parquet_and_registers_table(athena: Runner, bucket_dir: Path) -> None:
    athena("CREATE DATABASE staging")
    sql = CTAS.format(batch=BATCH_1,
                      select="id, DATE '2019-04-29' AS d, n FROM (VALUES ('a', 1), ('b', 2)) AS "
                             "t(id, n)")
    assert athena(sql).rowcount == 2
    files = [p.name for p in (bucket_dir / "staging" / "ITEM" / BATCH_1).iterdir()]
    assert len(files) == 1 and files[0].endswith(".parquet") and not files[0].startswith((".", "_"))
    assert athena("SELECT id, d, n FROM staging.item_ctas ORDER BY id").rows == [
        ("a", date(2019, 4, 29), 1), ("b", date(2019, 4, 29), 2)]
    assert [r[:2] for r in athena("DESCRIBE staging.item_ctas").rows] == [
        ("id", "string"), ("d", "date"), ("n", "int")]


def test_ctas_writes_row_groups_of_the_local_size(athena: Runner, bucket_dir: Path) -> None:
    """Row groups of PARQUET_ROW_GROUP_ROWS, as renditions and Iceberg data files have, so
    DuckDB writes and later reads a batch-sized file on every core (not in DuckDB's default
    groups of 122,880 rows)."""
    import pyarrow.parquet as pq

    athena("CREATE DATABASE staging")
    rows = 2 * PARQUET_ROW_GROUP_ROWS + 5
    sql = CTAS.format(batch=BATCH_1, select=f"x AS n FROM UNNEST(sequence(1, {rows})) AS t(x)")
    assert athena(sql).rowcount == rows
    (written,) = (bucket_dir / "staging" / "ITEM" / BATCH_1).iterdir()
    meta = pq.ParquetFile(written).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [
        PARQUET_ROW_GROUP_ROWS, PARQUET_ROW_GROUP_ROWS, 5]


def test_ctas_output_readable_through_projected_table(athena: Runner) -> None:
    athena("CREATE DATABASE staging")
    athena(STAGING_DDL)
    athena(CTAS.format(batch=BATCH_1, select="'a' AS id, 'A' AS name, CAST(7 AS bigint) AS qty, "
                                             "DATE '2019-04-29' AS start_date"))
    athena("DROP TABLE staging.item_ctas")
    r = athena(f"SELECT id, qty FROM staging.item_batch WHERE ingestion_batch_id = '{BATCH_1}'")
    assert r.rows == [("a", 7)]


def test_ctas_refuses_location_with_files(athena: Runner, bucket_dir: Path) -> None:
    athena("CREATE DATABASE staging")
    write_parquet(bucket_dir / "staging" / "ITEM" / BATCH_1, "old.parquet", {"id": ["x"]})
    with pytest.raises(EngineError, match="HIVE_PATH_ALREADY_EXISTS"):
        athena(CTAS.format(batch=BATCH_1, select="1 AS x"))
    with pytest.raises(EngineError, match="does not exist"):
        athena("SELECT * FROM staging.item_ctas")


def test_ctas_failure_leaves_no_file_and_no_table(athena: Runner, bucket_dir: Path) -> None:
    athena("CREATE DATABASE staging")
    failing = "CAST(v AS integer) AS v FROM (VALUES ('1'), ('oops')) AS t(v)"
    with pytest.raises(EngineError):
        athena(CTAS.format(batch=BATCH_1, select=failing))
    prefix = bucket_dir / "staging" / "ITEM" / BATCH_1
    assert not prefix.exists() or list(prefix.iterdir()) == []
    with pytest.raises(EngineError, match="does not exist"):
        athena("SELECT * FROM staging.item_ctas")
    # The location is still free, so a corrected statement succeeds.
    assert athena(CTAS.format(batch=BATCH_1, select="1 AS v")).rowcount == 1


def test_ctas_existing_table_name_refused(athena: Runner) -> None:
    athena("CREATE DATABASE staging")
    athena(CTAS.format(batch=BATCH_1, select="1 AS v"))
    with pytest.raises(EngineError, match="already exists"):
        athena(CTAS.format(batch=BATCH_2, select="1 AS v"))


def test_insert_into_external_adds_a_new_file(athena: Runner, staging: Path) -> None:
    before = list((staging / BATCH_1).iterdir())
    r = athena("INSERT INTO staging.item_batch (id, name, ingestion_batch_id) VALUES ('z', 'Z', "
               f"'{BATCH_1}')")
    assert r.rowcount == 1
    assert len(list((staging / BATCH_1).iterdir())) == len(before) + 1
    rows = athena(f"SELECT id, qty FROM staging.item_batch WHERE ingestion_batch_id = '{BATCH_1}' "
                  "ORDER BY id")
    assert rows.rows == [("a", 1), ("b", 2), ("z", None)]


def test_update_on_external_table_refused(athena: Runner, staging: Path) -> None:
    with pytest.raises(EngineError, match="needs an Iceberg table"):
        athena("UPDATE staging.item_batch SET name = 'x'")
