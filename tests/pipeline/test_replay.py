"""``ppstack replay``: late deliveries, promotion, DynamoDB in step, crash and resume, the lock.

Every layer is the real one (archive, renditions, staging SQL, SCD2 statements, Iceberg,
dynalite); deliveries are small scenario dates cut from the bundled extract.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from replay_support import (
    archive_date,
    conformed,
    dynamodb_items,
    model_versions,
    scenario,
    table_versions,
)

from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.errors import Locked, Refused
from ppstack.pipeline import stage as stage_module
from ppstack.pipeline.ledger import REPLAY, Ledger
from ppstack.pipeline.lock import EntityLock, SimulatedKill
from ppstack.pipeline.replay import CRASH_POINTS, dry_run, replay
from ppstack.pipeline.run import run_batch, status_rows
from ppstack.serving.reconcile import reconcile
from ppstack.settings import Settings, load_settings

D1, D2, D3 = "2019-04-29", "2019-04-30", "2019-05-01"


def fresh(settings: Settings, home: Path, **extra: str) -> Runtime:
    return Runtime(load_settings(backend="local", home=str(home),
                                 dynamodb_endpoint=settings.dynamodb_endpoint,
                                 dynamodb_table=f"t-{uuid.uuid4().hex[:12]}", **extra))


def in_order(settings: Settings, tmp_path: Path, scn, dates: list[str]) -> Runtime:
    """The reference: the same deliveries applied batch by batch in date order."""
    rt = fresh(settings, tmp_path / "in-order")
    for d in dates:
        archive_date(rt, scn, d)
        run_batch(rt, DRUG, "FDA_NDC", d, allow_mass_delete=True)
    return rt


@pytest.fixture
def late(settings: Settings, sample_files: dict, tmp_path: Path):
    """D1 and D3 applied, D2 archived late."""
    scn = scenario(sample_files, tmp_path / "data", [D1, D2, D3])
    rt = fresh(settings, tmp_path / "home")
    for d in (D1, D3):
        archive_date(rt, scn, d)
        run_batch(rt, DRUG, "FDA_NDC", d, allow_mass_delete=True)
    archive_date(rt, scn, D2)  # raw is append-only: a late delivery can still be archived
    yield scn, rt
    rt.close()


def test_late_delivery_refused_with_the_replay_command(late) -> None:
    _scn, rt = late
    with pytest.raises(Refused) as refused:
        run_batch(rt, DRUG, "FDA_NDC", D2)
    assert str(refused.value).endswith(f"ppstack replay DRUG --from {D2}")


def test_replay_from_late_date_equals_in_order_run(late, settings: Settings,
                                                   tmp_path: Path) -> None:
    scn, rt = late
    before = conformed(rt)
    planned = dry_run(rt, DRUG, D2)
    assert [(p.ingest_date, p.staged_batch is None) for p in planned] == [(D2, True), (D3, False)]
    record = replay(rt, DRUG, from_date=D2, allow_mass_delete=True)
    assert record.kind == REPLAY and record.state == "synced"
    reference = in_order(settings, tmp_path, scn, [D1, D2, D3])
    try:
        assert conformed(rt) == conformed(reference)
        assert dynamodb_items(rt) == dynamodb_items(reference)
    finally:
        reference.close()
    assert table_versions(rt) == model_versions(scn, [D1, D2, D3])
    assert reconcile(rt, DRUG) == []
    # the replaced table is kept, unchanged, under the dated name the ledger names
    kept = record.steps["promoted"]["replaced_kept_as"]
    assert kept.startswith("drug_replaced_") and conformed(rt, kept) == before
    # one ledger record for the replay, one per replayed delivery; status shows them
    rows = status_rows(rt, DRUG)
    replayed = [r for r in rows if r["replay"] == record.batch_id]
    assert [(r["date"], r["state"]) for r in replayed] == [(D2, "inserted"), (D3, "inserted")]
    assert any(r["kind"] == "replay" and r["state"] == "synced" for r in rows)
    # the next day runs on the promoted table as usual
    with pytest.raises(Refused):
        run_batch(rt, DRUG, "FDA_NDC", D2)


def test_dry_run_counts_match_the_replay(late) -> None:
    _scn, rt = late
    replay(rt, DRUG, from_date=D2, allow_mass_delete=True)
    # every delivery is staged now: a dry run of the whole archive knows every count
    planned = {p.ingest_date: p.counts for p in dry_run(rt, DRUG)}
    done = {r.ingest_date: r.counts for r in Ledger(rt.store).list(DRUG.name)
            if r.replay_id and r.kind == "batch"}
    for date, counts in done.items():
        assert planned[date] is not None
        assert {k: planned[date][k] for k in ("inserted", "updated", "deleted")} == {
            k: counts[k] for k in ("inserted", "updated", "deleted")}
    assert Ledger(rt.store).list(DRUG.name)[-1].kind == "batch"  # the dry run wrote nothing


def test_replay_refused_while_the_entity_is_locked(late) -> None:
    _scn, rt = late
    with EntityLock(rt.store, DRUG.name, stale_seconds=3600), pytest.raises(Locked):
        replay(rt, DRUG, from_date=D2)


def test_run_refused_while_a_replay_is_unfinished(late, settings: Settings,
                                                  tmp_path: Path) -> None:
    _scn, rt = late
    with pytest.raises(SimulatedKill):
        replay(rt, DRUG, from_date=D2, allow_mass_delete=True, crash_at="before_promote")
    rt.close()
    rt = Runtime(load_settings(backend="local", home=str(tmp_path / "home"),
                               dynamodb_endpoint=settings.dynamodb_endpoint,
                               dynamodb_table=rt.settings.dynamodb_table, lock_stale_seconds="0"))
    with pytest.raises(Refused, match=f"ppstack replay DRUG --from {D2}"):
        run_batch(rt, DRUG, "FDA_NDC", "2019-05-02")
    rt.close()


def _kill_during_staging(monkeypatch: pytest.MonkeyPatch) -> None:
    """The staging CTAS statements of the first replayed delivery complete, then the process
    dies while the stage step reads its counts back (before the ledger records 'staged')."""
    real = stage_module.stage_counts

    def dying(*args, **kwargs):
        monkeypatch.setattr(stage_module, "stage_counts", real)
        raise SimulatedKill("kill -9 during staging")

    monkeypatch.setattr(stage_module, "stage_counts", dying)


@pytest.mark.parametrize("point", ["during_staging", *CRASH_POINTS])
def test_replay_killed_anywhere_then_rerun_converges(point: str, settings: Settings,
                                                     sample_files: dict, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    scn = scenario(sample_files, tmp_path / "data", [D1, D2, D3])
    homes = {}
    for name in ("killed", "clean"):
        rt = fresh(settings, tmp_path / name)
        for d in (D1, D3):
            archive_date(rt, scn, d)
            run_batch(rt, DRUG, "FDA_NDC", d, allow_mass_delete=True)
        archive_date(rt, scn, D2)
        homes[name] = rt
    clean = homes["clean"]
    replay(clean, DRUG, from_date=D2, allow_mass_delete=True)

    killed = homes["killed"]
    if point == "during_staging":
        _kill_during_staging(monkeypatch)
        crash_at = None
    else:
        crash_at = point
    with pytest.raises(SimulatedKill):
        replay(killed, DRUG, from_date=D2, allow_mass_delete=True, crash_at=crash_at)
    killed.close()
    # a new process; the killed replay's lock is stale and is taken over
    again = Runtime(load_settings(backend="local", home=killed.settings.home,
                                  dynamodb_endpoint=settings.dynamodb_endpoint,
                                  dynamodb_table=killed.settings.dynamodb_table,
                                  lock_stale_seconds="0"))
    try:
        record = replay(again, DRUG, from_date=D2, allow_mass_delete=True)
        assert record.state == "synced" and record.attempts == 2
        assert conformed(again) == conformed(clean)
        assert dynamodb_items(again) == dynamodb_items(clean)
        assert reconcile(again, DRUG) == []
        replays = [r for r in Ledger(again.store).list(DRUG.name) if r.kind == REPLAY]
        assert len(replays) == 1
        per_date = [r.ingest_date for r in Ledger(again.store).list(DRUG.name)
                    if r.replay_id == record.batch_id and r.kind == "batch"]
        assert per_date == [D2, D3]  # one record per replayed delivery, even after the kill
    finally:
        again.close()
        clean.close()
