"""Business-time reads (half-open rule) and system-time reads (Iceberg snapshots), through
``sql.timetravel.as_of``: the rewriting ``ppstack query --as-of-*`` applies."""

from __future__ import annotations

import datetime as dt

import pytest
from pipeline_support import prepared_steps, snapshot_ids

from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.errors import BadInput
from ppstack.pipeline.run import run_batch
from ppstack.sql.timetravel import as_of

TABLE = "SELECT * FROM conformed.drug"

B1 = {"00000000001": {"proprietary_name": "Old"}, "00000000002": {"proprietary_name": "Gone"}}
B2 = {"00000000001": {"proprietary_name": "New"}}


@pytest.fixture
def history(rt: Runtime) -> Runtime:
    for day, batch in (("2025-01-01", B1), ("2025-01-10", B2)):
        run_batch(rt, DRUG, "FDA_NDC", day, steps=prepared_steps(batch), allow_mass_delete=True)
    return rt


def names(rt: Runtime, sql: str) -> dict[str, str]:
    return {r["ndc"]: r["proprietary_name"] for r in rt.engine.execute(sql).dicts()}


@pytest.mark.parametrize(("day", "expected"), [
    ("2024-12-31", {}),
    ("2025-01-01", {"00000000001": "Old", "00000000002": "Gone"}),
    ("2025-01-09", {"00000000001": "Old", "00000000002": "Gone"}),
    ("2025-01-10", {"00000000001": "New"}),  # half-open: the closing day belongs to the new version
    ("2030-01-01", {"00000000001": "New"}),
])
def test_timetravel_business_as_of_uses_half_open_rule(history: Runtime, day: str,
                                                       expected: dict) -> None:
    assert names(history, as_of(TABLE, day=day)) == expected


def test_timetravel_snapshot_reads_table_as_committed(history: Runtime) -> None:
    first_load = snapshot_ids(history)[0]
    sql = as_of(TABLE, snapshot=first_load)
    assert "FOR VERSION AS OF" in sql
    rows = history.engine.execute(sql).dicts()
    assert {r["proprietary_name"] for r in rows} == {"Old", "Gone"}
    assert all(r["is_current"] for r in rows)


def test_timetravel_time_reads_table_at_instant(history: Runtime) -> None:
    snaps = history.engine.snapshots("conformed", "drug")
    at = snaps[0]["committed_at"]
    instant = at.astimezone(dt.UTC).replace(tzinfo=None) + dt.timedelta(microseconds=1)
    rows = history.engine.execute(as_of(TABLE, instant=str(instant))).dicts()
    assert len(rows) == 2 and all(r["is_current"] for r in rows)


def test_timetravel_bad_inputs_are_refused(history: Runtime) -> None:
    with pytest.raises(BadInput):
        as_of(TABLE, day="2025-13-01")
    with pytest.raises(BadInput):
        as_of(TABLE, instant="yesterday")
