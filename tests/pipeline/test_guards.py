"""The three guards: each refuses with a clear message and changes nothing."""

from __future__ import annotations

import pytest
from pipeline_support import prepared_steps, snapshot_ids, table_rows

from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.errors import Locked, Refused
from ppstack.pipeline.invariants import check_invariants
from ppstack.pipeline.ledger import Ledger
from ppstack.pipeline.lock import EntityLock
from ppstack.pipeline.run import run_batch

KEYS = [f"{n:011d}" for n in range(1, 41)]
FULL = {k: {"proprietary_name": f"Drug {k}"} for k in KEYS}
MINUS_3 = {k: v for k, v in FULL.items() if k not in KEYS[:3]}  # 7.5 % disappear


def run(rt: Runtime, day: str, batch: dict, **kwargs):
    return run_batch(rt, DRUG, "FDA_NDC", day, steps=prepared_steps(batch), **kwargs)


def test_guard_effective_date_not_later_is_refused_with_explanation(rt: Runtime) -> None:
    run(rt, "2025-01-05", FULL)
    snapshots, rows = snapshot_ids(rt), table_rows(rt)
    for day in ("2025-01-04", "2024-12-31"):
        with pytest.raises(Refused) as e:
            run(rt, day, FULL)
        msg = str(e.value)
        assert "not later than the last applied effective date 2025-01-05" in msg
        assert "replaying the raw archive" in msg
    assert snapshot_ids(rt) == snapshots
    check_invariants(rows, table_rows(rt), DRUG.key)
    assert len(Ledger(rt.store).list(DRUG.name)) == 1


def test_guard_effective_date_uses_the_table_when_the_ledger_is_missing(rt: Runtime) -> None:
    record = run(rt, "2025-01-05", FULL)
    rt.store.delete(f"batches/DRUG/{record.batch_id}.json")
    with pytest.raises(Refused, match="conformed table"):
        run(rt, "2025-01-05", FULL)


def test_guard_mass_delete_refused_before_merge(rt: Runtime) -> None:
    run(rt, "2025-01-01", FULL)
    snapshots, rows = snapshot_ids(rt), table_rows(rt)
    with pytest.raises(Refused) as e:
        run(rt, "2025-01-02", MINUS_3)
    msg = str(e.value)
    assert "would close 3 of 40 current keys (7.5%) as disappeared" in msg
    assert "--allow-mass-delete" in msg and "Nothing was changed" in msg
    assert snapshot_ids(rt) == snapshots
    assert table_rows(rt) == rows
    failed = Ledger(rt.store).latest(DRUG.name)
    assert failed.state == "failed" and failed.error["step"] == "close"
    # explicitly allowed: the same batch resumes and applies
    done = run(rt, "2025-01-02", MINUS_3, allow_mass_delete=True)
    assert done.batch_id == failed.batch_id and done.counts["deleted"] == 3
    check_invariants(rows, table_rows(rt), DRUG.key)


def test_guard_mass_delete_threshold_is_configurable(rt: Runtime) -> None:
    run(rt, "2025-01-01", FULL)
    rt.settings = rt.settings.with_(mass_delete_threshold="0.10")
    assert run(rt, "2025-01-02", MINUS_3).counts["deleted"] == 3


def test_guard_mass_delete_first_batch_passes(rt: Runtime) -> None:
    assert run(rt, "2025-01-01", FULL).counts["inserted"] == 40


def test_guard_lock_refuses_second_concurrent_run(rt: Runtime) -> None:
    run(rt, "2025-01-01", FULL)
    snapshots = snapshot_ids(rt)
    holder = EntityLock(rt.store, "DRUG", stale_seconds=3600).acquire()
    try:
        with pytest.raises(Locked) as e:
            run(rt, "2025-01-02", FULL)
        assert holder.owner in str(e.value) and "one batch per entity type" in str(e.value)
    finally:
        holder.release()
    assert snapshot_ids(rt) == snapshots
    assert len(Ledger(rt.store).list(DRUG.name)) == 1
    run(rt, "2025-01-02", FULL)  # released: runs


def test_guard_unfinished_batch_blocks_other_dates(rt: Runtime) -> None:
    run(rt, "2025-01-01", FULL)
    with pytest.raises(Refused):
        run(rt, "2025-01-02", MINUS_3)  # mass delete: left unfinished
    with pytest.raises(Refused, match="is not finished.*--date 2025-01-02"):
        run(rt, "2025-01-03", FULL)
