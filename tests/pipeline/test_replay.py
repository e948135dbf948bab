"""``ppstack replay``: late deliveries, promotion, DynamoDB in step, kill -9 and resume, the lock.

Every layer is the real one (archive, renditions, staging SQL, SCD2 statements, Iceberg,
dynalite); deliveries are small scenario dates cut from the bundled extract.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
from ppstack.pipeline import killpoints
from ppstack.pipeline.ledger import REPLAY, Ledger
from ppstack.pipeline.lock import EntityLock
from ppstack.pipeline.replay import dry_run, replay
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


# ---- kill -9 ------------------------------------------------------------------------------

def replay_process(rt: Runtime, kill_at: str | None = None,
                   lock_stale_seconds: str = "3600") -> subprocess.CompletedProcess[bytes]:
    """``ppstack replay DRUG --from D2`` in a fresh process on ``rt``'s home and table; with
    ``kill_at`` it dies by SIGKILL at that point (the test hook of ``pipeline.killpoints``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PPSTACK_")}
    env.update(PPSTACK_HOME=str(rt.settings.home),
               PPSTACK_DYNAMODB_ENDPOINT=rt.settings.dynamodb_endpoint,
               PPSTACK_DYNAMODB_TABLE=rt.settings.dynamodb_table,
               PPSTACK_LOCK_STALE_SECONDS=lock_stale_seconds)
    if kill_at is not None:
        env[killpoints.ENV] = kill_at
    cmd = [sys.executable, "-m", "ppstack", "-q", "replay", "DRUG", "--from", D2,
           "--allow-mass-delete"]
    return subprocess.run(cmd, env=env, capture_output=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def uninterrupted(sample_files: dict, dynalite_endpoint: str,
                  tmp_path_factory: pytest.TempPathFactory):
    """The scenario, and the end state of an uninterrupted replay (D1, D3 applied, D2 late)."""
    base = tmp_path_factory.mktemp("uninterrupted")
    scn = scenario(sample_files, base / "data", [D1, D2, D3])
    rt = late_home(dynalite_endpoint, base / "home", scn)
    try:
        done = replay_process(rt)
        assert done.returncode == 0, done.stderr.decode()
        yield scn, conformed(rt), dynamodb_items(rt)
    finally:
        rt.close()


def late_home(endpoint: str, home: Path, scn) -> Runtime:
    rt = Runtime(load_settings(backend="local", home=str(home), dynamodb_endpoint=endpoint,
                               dynamodb_table=f"t-{uuid.uuid4().hex[:12]}"))
    for d in (D1, D3):
        archive_date(rt, scn, d)
        run_batch(rt, DRUG, "FDA_NDC", d, allow_mass_delete=True)
    archive_date(rt, scn, D2)
    return rt


@pytest.mark.parametrize("point", killpoints.POINTS)
def test_replay_killed_by_sigkill_then_rerun_converges(point: str, uninterrupted,
                                                      dynalite_endpoint: str,
                                                      tmp_path: Path) -> None:
    """A real ``kill -9`` of a ``ppstack replay`` process at each point, then the same command
    in a fresh process: the end state equals the uninterrupted replay's (conformed business
    content, DynamoDB items, ledger records) and reconcile is empty."""
    scn, clean_rows, clean_items = uninterrupted
    rt = late_home(dynalite_endpoint, tmp_path / "home", scn)
    try:
        killed = replay_process(rt, kill_at=point)
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
        # nothing unwound: the lock is still held by the dead process
        assert EntityLock(rt.store, DRUG.name, stale_seconds=0).holder() is not None
        # while the replay is unfinished a run is refused with the command that finishes it
        stale = Runtime(rt.settings.with_(lock_stale_seconds="0"))
        try:
            with pytest.raises(Refused, match=f"ppstack replay DRUG --from {D2}"):
                run_batch(stale, DRUG, "FDA_NDC", "2019-05-02")
        finally:
            stale.close()
        again = replay_process(rt, lock_stale_seconds="0")
        assert again.returncode == 0, again.stderr.decode()
        assert conformed(rt) == clean_rows
        assert dynamodb_items(rt) == clean_items
        assert reconcile(rt, DRUG) == []
        records = Ledger(rt.store).list(DRUG.name)
        replays = [r for r in records if r.kind == REPLAY]
        assert [(r.state, r.attempts) for r in replays] == [("synced", 2)]
        per_date = [r.ingest_date for r in records
                    if r.replay_id == replays[0].batch_id and r.kind == "batch"]
        assert per_date == [D2, D3]  # one record per replayed delivery, even after the kill
        assert table_versions(rt) == model_versions(scn, [D1, D2, D3])
    finally:
        rt.close()
