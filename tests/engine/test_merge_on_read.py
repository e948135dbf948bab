"""Row-level statements write position deletes and new rows (merge-on-read, as Athena does):
data files that hold no changed row are never rewritten, and pyiceberg's own reader, which
applies the position deletes itself, sees exactly what the engine sees."""

from __future__ import annotations

from typing import Any

import pytest
from engine_sql import Runner

from ppstack.engine.local import LocalEngine

TABLE = ("CREATE TABLE conformed.kv (k string, v bigint, current boolean) "
         "TBLPROPERTIES ('table_type'='ICEBERG')")


def files(engine: LocalEngine) -> dict[str, set[str]]:
    """Data and delete file paths of the current snapshot, as pyiceberg plans them."""
    tasks = list(engine.iceberg_table("conformed", "kv").scan().plan_files())
    return {"data": {t.file.file_path for t in tasks},
            "deletes": {d.file_path for t in tasks for d in t.delete_files}}


def pyiceberg_rows(engine: LocalEngine, snapshot_id: int | None = None) -> list[tuple[Any, ...]]:
    data = engine.iceberg_table("conformed", "kv").scan(snapshot_id=snapshot_id).to_arrow()
    return sorted(zip(*(data.column(c).to_pylist() for c in ("k", "v", "current")), strict=True))


def engine_rows(athena: Runner) -> list[tuple[Any, ...]]:
    return sorted(athena("SELECT k, v, current FROM conformed.kv").rows)


@pytest.fixture
def kv(athena: Runner, engine: LocalEngine) -> Runner:
    """Two data files: keys a..c (first INSERT) and x..z (second INSERT)."""
    athena(TABLE)
    athena("INSERT INTO conformed.kv VALUES ('a', 1, true), ('b', 2, true), ('c', 3, true)")
    athena("INSERT INTO conformed.kv VALUES ('x', 7, true), ('y', 8, true), ('z', 9, true)")
    return athena


def test_merge_leaves_untouched_files_and_pyiceberg_reads_the_same_rows(
        kv: Runner, engine: LocalEngine) -> None:
    before = files(engine)
    old_snapshot = engine.snapshots("conformed", "kv")[-1]["snapshot_id"]
    r = kv("MERGE INTO conformed.kv AS t USING (SELECT 'b' AS k UNION ALL SELECT 'c') AS s "
           "ON t.k = s.k AND t.current WHEN MATCHED THEN UPDATE SET current = false")
    assert r.rowcount == 2
    after = files(engine)
    assert before["data"] <= after["data"]  # nothing rewritten: both old files still live
    assert len(after["data"] - before["data"]) == 1 and len(after["deletes"]) == 1
    expected = [("a", 1, True), ("b", 2, False), ("c", 3, False), ("x", 7, True), ("y", 8, True),
                ("z", 9, True)]
    assert engine_rows(kv) == expected == pyiceberg_rows(engine)
    snaps = engine.snapshots("conformed", "kv")
    assert len(snaps) == 3 and snaps[-1]["operation"] == "overwrite"  # two INSERTs, one MERGE
    assert snaps[-1]["summary"]["added-position-deletes"] == "2"
    assert pyiceberg_rows(engine, old_snapshot) == [
        ("a", 1, True), ("b", 2, True), ("c", 3, True), ("x", 7, True), ("y", 8, True),
        ("z", 9, True)]  # time travel: the earlier snapshot is unchanged


def test_update_then_delete_then_merge_insert_stack_up_correctly(
        kv: Runner, engine: LocalEngine) -> None:
    kv("UPDATE conformed.kv SET v = v * 10 WHERE k IN ('a', 'y')")
    kv("DELETE FROM conformed.kv WHERE k = 'a' OR k = 'z'")  # 'a' was rewritten by the UPDATE
    kv("MERGE INTO conformed.kv AS t USING (SELECT 'b' AS k, 5 AS v UNION ALL SELECT 'n', 6) AS s "
       "ON t.k = s.k WHEN MATCHED THEN UPDATE SET v = s.v "
       "WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.v, true)")
    expected = [("b", 5, True), ("c", 3, True), ("n", 6, True), ("x", 7, True), ("y", 80, True)]
    assert engine_rows(kv) == expected == pyiceberg_rows(engine)
    fresh = LocalEngine(engine.settings)  # another process: reads the files, not our cache
    try:
        assert sorted(fresh.execute("SELECT k, v, current FROM conformed.kv").rows) == expected
    finally:
        fresh.close()


def test_a_statement_that_changes_nothing_commits_nothing(kv: Runner, engine: LocalEngine) -> None:
    n = len(engine.snapshots("conformed", "kv"))
    assert kv("UPDATE conformed.kv SET v = 0 WHERE k = 'nope'").rowcount == 0
    assert kv("DELETE FROM conformed.kv WHERE k = 'nope'").rowcount == 0
    assert len(engine.snapshots("conformed", "kv")) == n


def test_a_commit_on_a_table_changed_meanwhile_fails_and_changes_nothing(
        kv: Runner, engine: LocalEngine) -> None:
    from ppstack.engine.merge_on_read import FILE, POS, commit_row_changes

    stale = engine.iceberg_table("conformed", "kv")
    base = engine.iceberg.scan(stale)
    first = engine.con.sql(f"SELECT * FROM ({base.sql(positions=True)}) ORDER BY k LIMIT 1"
                           ).to_arrow_table()
    other = LocalEngine(engine.settings)  # another writer commits after we read
    try:
        other.execute("UPDATE conformed.kv SET v = 100 WHERE k = 'x'")
    finally:
        other.close()
    with pytest.raises(Exception, match="changed"):
        commit_row_changes(stale, base, first.select([FILE, POS]),
                           first.drop_columns([FILE, POS]))
    assert pyiceberg_rows(engine) == [("a", 1, True), ("b", 2, True), ("c", 3, True),
                                      ("x", 100, True), ("y", 8, True), ("z", 9, True)]


def test_reads_by_name_until_the_schema_changes_then_by_field_id(
        athena: Runner, engine: LocalEngine) -> None:
    """One schema: columns are read by name (DuckDB then estimates joins from the files' row
    counts). After ADD COLUMNS: by field id, as Iceberg reads. Both give what pyiceberg gives,
    in every type the conformed tables use."""
    from ppstack.engine.merge_on_read import Scan

    athena("CREATE TABLE conformed.typed (k string, d date, ts timestamp, b boolean, "
           "n decimal(9,2), i bigint, f double) TBLPROPERTIES ('table_type'='ICEBERG')")
    athena("INSERT INTO conformed.typed VALUES ('a', DATE '2025-01-02', "
           "TIMESTAMP '2025-01-02 03:04:05.123456', true, 12.34, 5, 0.5), "
           "('b', NULL, NULL, false, -0.01, NULL, NULL)")
    athena("UPDATE conformed.typed SET i = 6 WHERE k = 'a'")  # and a position delete

    def both() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        ice = engine.iceberg_table("conformed", "typed")
        data = ice.scan().to_arrow()
        names = [f.name for f in ice.schema().fields]
        theirs = sorted(zip(*(data.column(c).to_pylist() for c in names), strict=True))
        ours = sorted(athena(f"SELECT {', '.join(names)} FROM conformed.typed").rows)
        return ours, theirs

    def by_name() -> bool:
        ice = engine.iceberg_table("conformed", "typed")
        return Scan.of(ice, ice.current_snapshot().snapshot_id).by_name

    assert by_name()
    ours, theirs = both()
    assert ours == theirs and len(ours) == 2 and ours[0][5] == 6
    athena("ALTER TABLE conformed.typed ADD COLUMNS (extra string)")
    assert not by_name()
    ours, theirs = both()
    assert ours == theirs and [r[-1] for r in ours] == [None, None]
