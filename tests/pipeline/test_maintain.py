"""``ppstack maintain``: compaction and snapshot expiry change neither the table's content nor
what time travel reads within the retention."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pipeline_support import prepared_steps, snapshot_ids, table_rows

from ppstack.backends import Runtime
from ppstack.cli.main import cli
from ppstack.engine.maintenance import file_counts
from ppstack.engine.merge_on_read import Scan
from ppstack.entities import DRUG
from ppstack.errors import EngineError
from ppstack.pipeline.maintain import maintain_entity
from ppstack.pipeline.run import run_batch
from ppstack.sql import timetravel

TABLE = "SELECT * FROM conformed.drug"
DAYS = (
    ("2025-01-01", {f"0000000000{i}": {"proprietary_name": f"N{i}"} for i in range(1, 7)}),
    ("2025-01-02", {**{f"0000000000{i}": {"proprietary_name": f"N{i}"} for i in range(1, 6)},
                    "00000000001": {"proprietary_name": "changed"}}),
    ("2025-01-03", {**{f"0000000000{i}": {"proprietary_name": f"N{i}"} for i in range(2, 6)},
                    "00000000007": {"proprietary_name": "new"}}),
)


def ordered(rows: list[dict]) -> list[tuple]:
    return sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)


@pytest.fixture
def history(rt: Runtime) -> Runtime:
    """Three batches: each closes rows (position deletes) and opens rows (new data files)."""
    for day, batch in DAYS:
        run_batch(rt, DRUG, "FDA_NDC", day, steps=prepared_steps(batch), allow_mass_delete=True)
    return rt


def as_of(rt: Runtime, snapshot_id: int) -> list[tuple]:
    return ordered(rt.engine.execute(timetravel.as_of(TABLE, snapshot=snapshot_id)).dicts())


def test_maintain_compacts_and_expires_without_changing_what_is_read(history: Runtime) -> None:
    before = snapshot_ids(history)
    content = ordered(table_rows(history))
    within = before[-2:]  # the retention below keeps these (and adds the compaction snapshot)
    travel = {s: as_of(history, s) for s in within}
    ice = history.engine.iceberg.load("conformed", "drug")  # type: ignore[attr-defined]
    assert file_counts(ice)[1] > 0  # the batches wrote position deletes

    report = maintain_entity(history, DRUG, max_age_hours=0, min_keep=3)

    assert report.compacted and (report.data_files_after, report.delete_files_after) == (1, 0)
    after = snapshot_ids(history)
    assert after[:-1] == within and report.snapshots_after == 3
    assert report.snapshots_expired == len(before) - 2
    assert ordered(table_rows(history)) == content
    fresh = Runtime(history.settings)  # another process: reads the files, not our cache
    try:
        assert ordered(table_rows(fresh)) == content
        assert {s: as_of(fresh, s) for s in within} == travel
        with pytest.raises(EngineError, match="no snapshot"):
            fresh.engine.execute(timetravel.as_of(TABLE, snapshot=before[0]))
    finally:
        fresh.close()


def test_compaction_writes_open_versions_before_closed_ones(history: Runtime) -> None:
    """Closed versions follow the open ones in the compacted file, so a row group holds one
    kind only (bar the one at the border) and a read of current rows skips the history's."""
    import pyarrow.parquet as pq

    maintain_entity(history, DRUG, max_age_hours=0, min_keep=1)
    ice = history.engine.iceberg.load("conformed", "drug")  # type: ignore[attr-defined]
    (data_file,) = Scan.of(ice, ice.current_snapshot().snapshot_id).files
    flags = pq.read_table(ice.io.new_input(data_file.file_path).open(),
                          columns=["is_current"]).column(0).to_pylist()
    assert True in flags and False in flags  # the history has both kinds
    assert flags == sorted(flags, reverse=True)  # all open versions, then all closed ones


def test_maintain_within_the_default_retention_expires_nothing_and_is_repeatable(
        history: Runtime) -> None:
    before = snapshot_ids(history)
    content = ordered(table_rows(history))
    first = maintain_entity(history, DRUG)
    assert first.compacted and first.snapshots_expired == 0
    second = maintain_entity(history, DRUG)
    assert not second.compacted and second.snapshots_expired == 0  # nothing left to do
    assert snapshot_ids(history)[:-1] == before
    assert ordered(table_rows(history)) == content
    run_batch(history, DRUG, "FDA_NDC", "2025-01-04", steps=prepared_steps(DAYS[2][1]))
    assert ordered(table_rows(history)) != []  # batches still apply after a compaction


def test_maintain_cli_reports_json(history: Runtime) -> None:
    result = CliRunner().invoke(cli, ["--home", history.settings.home, "-q", "maintain", "DRUG",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"compacted": true' in result.output and '"delete_files_after": 0' in result.output
