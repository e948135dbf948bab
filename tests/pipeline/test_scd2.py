"""SCD Type 2 through the real templates on the local engine (Iceberg via pyiceberg).

Staging is written directly as Parquet (``pipeline_support``); close, insert, ledger and lock are
the product code. ``check_invariants`` runs after every batch of every test.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_support import (
    ReferenceModel,
    bootstrap_staging,
    fingerprint,
    normalized,
    prepared_steps,
    snapshot_ids,
    table_as_model_rows,
    table_rows,
)

from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.pipeline.invariants import check_invariants
from ppstack.pipeline.ledger import Ledger
from ppstack.pipeline.lock import SimulatedKill
from ppstack.pipeline.run import run_batch
from ppstack.pipeline.steps import BatchContext, close_step, insert_step, replace_step
from ppstack.settings import load_settings

DAY1, DAY2, DAY3 = "2025-01-01", "2025-01-02", "2025-01-05"

B1 = {
    "00000000001": {"proprietary_name": "Alpha", "strength": "1 mg"},
    "00000000002": {"proprietary_name": "Beta", "strength": "2 mg"},
    "00000000003": {"proprietary_name": "Gamma", "strength": "3 mg"},
    "00000000004": {"proprietary_name": "Delta", "strength": "4 mg"},
}
# 2 changed, 3 disappeared, 1 unchanged, 5 new
B2 = {
    "00000000001": {"proprietary_name": "Alpha", "strength": "1 mg"},
    "00000000002": {"proprietary_name": "Beta", "strength": "20 mg"},
    "00000000004": {"proprietary_name": "Delta XR", "strength": "4 mg"},
    "00000000005": {"proprietary_name": "Epsilon"},
}
# 3 reactivated (with new values), 5 disappeared
B3 = {
    "00000000001": {"proprietary_name": "Alpha", "strength": "1 mg"},
    "00000000002": {"proprietary_name": "Beta", "strength": "20 mg"},
    "00000000003": {"proprietary_name": "Gamma", "strength": "3.5 mg"},
    "00000000004": {"proprietary_name": "Delta XR", "strength": "4 mg"},
}
SCRIPT = ((DAY1, B1), (DAY2, B2), (DAY3, B3))


def apply(rt: Runtime, day: str, batch: dict, **kwargs) -> dict:
    """Run one batch, check the invariants against the table before it, return the record."""
    before = table_rows(rt)
    record = run_batch(rt, DRUG, "FDA_NDC", day, steps=prepared_steps(batch),
                       allow_mass_delete=True, **kwargs)
    check_invariants(before, table_rows(rt), DRUG.key)
    return record


def dates_by_batch(rt: Runtime) -> dict[str, str]:
    return {r.batch_id: r.ingest_date for r in Ledger(rt.store).list(DRUG.name)}


def test_scd2_three_batches_match_reference_model(rt: Runtime) -> None:
    model = ReferenceModel()
    for n, (day, batch) in enumerate(SCRIPT):
        apply(rt, day, batch)
        model.apply(n, day, batch)
        assert table_as_model_rows(table_rows(rt)) == model.rows()


def test_scd2_counts_classify_keys_like_the_sync(rt: Runtime) -> None:
    apply(rt, DAY1, B1)
    record = apply(rt, DAY2, B2)
    assert {k: record.counts[k] for k in ("inserted", "updated", "deleted", "unchanged")} == {
        "inserted": 1, "updated": 2, "deleted": 1, "unchanged": 1}
    assert record.state == "inserted" and record.complete
    assert set(record.timings) == {"stage", "close", "insert"}


def test_scd2_batch_id_query_returns_exactly_the_closed_and_opened_rows(rt: Runtime) -> None:
    apply(rt, DAY1, B1)
    record = apply(rt, DAY2, B2)
    rows = rt.engine.execute(
        f"SELECT ndc, active_from, is_current FROM conformed.drug "
        f"WHERE ingestion_batch_id = '{record.batch_id}'").rows
    got = {(ndc, str(start), cur) for ndc, start, cur in rows}
    assert got == {
        ("00000000002", DAY1, False), ("00000000002", DAY2, True),  # changed
        ("00000000004", DAY1, False), ("00000000004", DAY2, True),  # changed
        ("00000000003", DAY1, False),                               # disappeared
        ("00000000005", DAY2, True),                                # new
    }


def test_scd2_each_statement_is_one_iceberg_commit(rt: Runtime) -> None:
    apply(rt, DAY1, B1)
    first = snapshot_ids(rt)
    apply(rt, DAY2, B2)
    assert len(snapshot_ids(rt)) == len(first) + 2  # one MERGE + one INSERT


def test_scd2_rerun_of_completed_batch_changes_nothing(rt: Runtime) -> None:
    apply(rt, DAY1, B1)
    record = apply(rt, DAY2, B2)
    snapshots, rows = snapshot_ids(rt), table_rows(rt)
    # the runner: the date is complete, nothing runs
    again = run_batch(rt, DRUG, "FDA_NDC", DAY2, steps=prepared_steps(B2))
    assert again.batch_id == record.batch_id
    # the steps themselves, forced to run again on the completed batch
    ctx = BatchContext(rt=rt, spec=DRUG, source="FDA_NDC", record=record, allow_mass_delete=True)
    assert close_step(ctx)["closed_rows"] == 0
    assert insert_step(ctx)["opened_rows"] == 0
    assert snapshot_ids(rt) == snapshots
    check_invariants(rows, table_rows(rt), DRUG.key)
    assert sorted(map(str, table_rows(rt))) == sorted(map(str, rows))


def _uninterrupted(tmp: Path) -> list[tuple]:
    rt = Runtime(load_settings(backend="local", home=str(tmp / "reference")))
    bootstrap_staging(rt)
    for day, batch in SCRIPT:
        apply(rt, day, batch)
    try:
        return normalized(table_rows(rt), dates_by_batch(rt))
    finally:
        rt.close()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    return _uninterrupted(tmp_path_factory.mktemp("uninterrupted"))


@pytest.mark.parametrize("stop_after", ["stage", "close", "insert"])
def test_scd2_kill_after_any_step_then_rerun_equals_uninterrupted(
        tmp_path: Path, uninterrupted: list[tuple], stop_after: str) -> None:
    home = str(tmp_path / "home")
    rt = Runtime(load_settings(backend="local", home=home))
    bootstrap_staging(rt)
    apply(rt, DAY1, B1)
    before = table_rows(rt)
    with pytest.raises(SimulatedKill):
        run_batch(rt, DRUG, "FDA_NDC", DAY2, steps=prepared_steps(B2), allow_mass_delete=True,
                  stop_after=stop_after)
    check_invariants(before, table_rows(rt), DRUG.key)
    rt.close()
    # a new process; the killed run's lock is still there and is taken over once stale
    rt = Runtime(load_settings(backend="local", home=home, lock_stale_seconds="0"))
    record = apply(rt, DAY2, B2)
    assert record.complete
    # killed after its last step, the batch was already complete: the re-run has nothing to do
    assert record.attempts == (1 if stop_after == "insert" else 2)
    assert any("took over stale lock" in n for n in record.notes)
    apply(rt, DAY3, B3)
    assert normalized(table_rows(rt), dates_by_batch(rt)) == uninterrupted
    rt.close()


@pytest.mark.parametrize("step_name", ["close", "insert"])
def test_scd2_kill_after_commit_before_ledger_then_rerun_equals_uninterrupted(
        tmp_path: Path, uninterrupted: list[tuple], step_name: str) -> None:
    """The worst moment: the Iceberg commit happened, the ledger never heard of it."""
    home = str(tmp_path / "home")
    rt = Runtime(load_settings(backend="local", home=home, lock_stale_seconds="0"))
    bootstrap_staging(rt)
    apply(rt, DAY1, B1)
    real = {"close": close_step, "insert": insert_step}[step_name]

    def commit_then_die(ctx: BatchContext) -> dict:
        real(ctx)
        raise SimulatedKill(f"killed inside {step_name} after its commit")

    steps = replace_step(prepared_steps(B2), step_name, commit_then_die)
    with pytest.raises(SimulatedKill):
        run_batch(rt, DRUG, "FDA_NDC", DAY2, steps=steps, allow_mass_delete=True)
    record = apply(rt, DAY2, B2)
    assert record.complete
    apply(rt, DAY3, B3)
    assert normalized(table_rows(rt), dates_by_batch(rt)) == uninterrupted
    rt.close()


def test_scd2_failed_step_is_recorded_and_resumed(rt: Runtime) -> None:
    apply(rt, DAY1, B1)

    def broken_insert(ctx: BatchContext) -> dict:
        raise RuntimeError("engine went away")

    steps = replace_step(prepared_steps(B2), "insert", broken_insert)
    with pytest.raises(RuntimeError):
        run_batch(rt, DRUG, "FDA_NDC", DAY2, steps=steps, allow_mass_delete=True)
    failed = Ledger(rt.store).latest(DRUG.name)
    assert failed.state == "failed" and failed.completed == "closed"
    assert failed.error["step"] == "insert" and "engine went away" in failed.error["message"]
    resumed = apply(rt, DAY2, B2)
    assert resumed.batch_id == failed.batch_id and resumed.complete
    assert resumed.attempts == 2
    # close was not re-run: its recorded result is the first attempt's (2 changed + 1 disappeared)
    assert resumed.steps["close"]["closed_rows"] == 3


# ---- the property test ------------------------------------------------------------------------

KEYS = [f"{n:011d}" for n in range(1, 9)]
NAMES = ["Alpha", "Beta", None]
STRENGTHS = ["1 mg", "2 mg"]

# One key in one raw batch: absent, or present once or twice (a duplicate in the raw input; the
# staging rule "last occurrence wins" is applied before writing, as staging would de-duplicate).
key_state = st.one_of(
    st.none(),
    st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(STRENGTHS)), min_size=1, max_size=2),
)
raw_batch = st.fixed_dictionaries({k: key_state for k in KEYS})
batches = st.lists(st.tuples(st.integers(1, 40), raw_batch), min_size=5, max_size=7)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches)
def test_scd2_random_batches_match_reference_model(script: list) -> None:
    import datetime as dt

    with tempfile.TemporaryDirectory(prefix="ppstack-hyp-") as home:
        rt = Runtime(load_settings(backend="local", home=home))
        try:
            bootstrap_staging(rt)
            model = ReferenceModel()
            day = dt.date(2025, 1, 1)
            for n, (gap, raw) in enumerate(script):
                day += dt.timedelta(days=gap)
                batch = {k: {"proprietary_name": occ[-1][0], "strength": occ[-1][1]}
                         for k, occ in raw.items() if occ}
                record = apply(rt, day.isoformat(), batch)
                model.apply(n, day.isoformat(), batch)
                rows = table_rows(rt)
                assert table_as_model_rows(rows) == model.rows()
                for r in rows:
                    if r["is_current"]:
                        assert r["fingerprint"] == fingerprint(DRUG, r)
                touched = rt.engine.execute(
                    "SELECT ndc, active_from, is_current FROM conformed.drug "
                    f"WHERE ingestion_batch_id = '{record.batch_id}'").rows
                assert {(k, str(f), c) for k, f, c in touched} == model.touched(n)
        finally:
            rt.close()
