"""The AWS sync in time-boxed slices, simulated against DynamoDB's per-partition limits.

A batch's conformed rows come from the real pipeline (archive -> stage -> close -> insert on
the local engine). One table gets a plain local sync; another gets ``sync_slice`` invocations
through ``ThrottledDynamoDB`` (1,000 WCU/s and 3,000 RCU/s per partition key on a virtual
clock, with an invocation time limit) until the checkpoint says done. Both tables must hold
exactly the same items, and no invocation may outlive its limit.

The small tests cut the bundled extract to 250 products and the invocation limit to a few
seconds, so several invocations are needed. The ``slow`` test runs the full FDA directory
(whenever ../shared holds it; by default a proportional quarter of it, see ``SCALE``), compares
the table with the projection of the conformed rows (what a plain sync leaves; the small tests
check that the two comparisons agree) and prints the simulated minutes the README reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from throttled_dynamodb import (
    ClockedExecutor,
    Invocation,
    InvocationTimeout,
    ThrottledDynamoDB,
    VirtualClock,
)

from deliveries import cut, thin
from ppstack.backends import Runtime
from ppstack.entities import DRUG, get_source
from ppstack.errors import Throttled
from ppstack.pipeline.run import run_batch
from ppstack.pipeline.steps import CLOSE, INSERT, STAGE
from ppstack.raw.archive import archive
from ppstack.serving import apply
from ppstack.serving.changes import comparable, project_changes
from ppstack.serving.pace import KeyPacer
from ppstack.serving.projection import change_versions, group_by_key, project_key
from ppstack.serving.read import all_rows
from ppstack.serving.retry import Backoff
from ppstack.serving.slices import load_checkpoint, sync_slice
from ppstack.serving.sync import sync_batch
from ppstack.serving.table import delete_table
from ppstack.settings import load_settings

CONFORM = (STAGE, CLOSE, INSERT)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "fda_ndc"


@dataclass
class Conformed:
    rt: Runtime
    batch_id: str


def conform(home: Path, endpoint: str, files: list[Path], day: str) -> Conformed:
    settings = load_settings(backend="local", home=str(home), dynamodb_endpoint=endpoint,
                             dynamodb_table=f"t-{uuid.uuid4().hex[:12]}")
    rt = Runtime(settings)
    archive(rt, DRUG, get_source(DRUG, "FDA_NDC"), files, day)
    record = run_batch(rt, DRUG, "FDA_NDC", day, steps=CONFORM)
    return Conformed(rt, record.batch_id)


@pytest.fixture(scope="module")
def sample_batch(tmp_path_factory: pytest.TempPathFactory, dynalite_endpoint: str,
                 sample_files: dict[str, Path]) -> Iterator[Conformed]:
    home = tmp_path_factory.mktemp("slices")
    # 250 products of the bundled extract, so the normal suite stays quick on a loaded machine
    c = conform(home, dynalite_endpoint, cut(sample_files, home / "files", 250), "2019-04-29")
    yield c
    c.rt.close()


class Digest:
    """An order-independent digest of items (sum of their sha256 mod 2**256) and their count:
    two tables compare without holding either. Batch items count without ``synced_at`` (when
    each sync wrote them)."""

    def __init__(self) -> None:
        self.total, self.count = 0, 0

    def add(self, item: dict[str, Any]) -> None:
        blob = json.dumps(comparable(item), sort_keys=True).encode("utf-8")
        self.total = (self.total + int.from_bytes(hashlib.sha256(blob).digest(), "big")) \
            % (1 << 256)
        self.count += 1

    def value(self) -> tuple[int, str]:
        return self.count, f"{self.total:064x}"


def table_digest(client: Any, table: str) -> tuple[int, str]:
    """(item count, digest) of every item in the table."""
    digest = Digest()
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            digest.add(item)
        if "LastEvaluatedKey" not in page:
            return digest.value()
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def projection_digest(rt: Runtime) -> tuple[int, str]:
    """(item count, digest) of the projection of every conformed row, one key at a time: the
    items a plain sync leaves in an empty table (tests/serving/test_rebuild_reconcile.py shows
    a sync's table equals ``project``), at a fraction of a second sync's cost; then the change
    and batch items."""
    digest = Digest()
    groups = group_by_key(DRUG, all_rows(rt, DRUG))
    for rows in groups.values():
        for item in project_key(DRUG, rows).values():
            digest.add(item)
    for item in project_changes(DRUG, ((k, change_versions(DRUG, r)) for k, r in groups.items())):
        digest.add(item)
    return digest.value()


@dataclass
class Simulation:
    sim: ThrottledDynamoDB
    rt: Runtime
    invocations: list[dict[str, Any]]

    @property
    def minutes(self) -> float:
        return self.sim.clock.now() / 60


# The state machine's Retry on the Sync state for Throttled (infra/ppstack_infra/pipeline.py).
SYNC_RETRY = {"interval": 60.0, "backoff": 2.0, "attempts": 5, "max_delay": 600.0}


def simulate(c: Conformed, *, limit: float, reserve: float, chunk_size: int,
             workers: int = 8, kill_first_after: float | None = None,
             pace: float = 900.0, outages: dict[str, tuple[float, float]] | None = None,
             attempts: int = 40) -> Simulation:
    """Invoke ``sync_slice`` until done, each invocation under ``limit`` virtual seconds, as
    the state machine's Sync -> Synced? loop does (with its Retry on ``Throttled``).

    ``kill_first_after``: the first invocation is ended by "Lambda" after that many seconds,
    whatever it is doing (a crash mid-chunk), to show the next one resumes.
    """
    clock = VirtualClock()
    name = f"t-{uuid.uuid4().hex[:12]}"
    sim = ThrottledDynamoDB(c.rt.dynamodb, clock, outages=dict(outages or {}))
    rt = Runtime(c.rt.settings.with_(dynamodb_table=name), _store=c.rt.store,
                 _engine=c.rt.engine, _dynamodb=sim)
    backoff = Backoff(base=0.05, cap=2.0, attempts=attempts, sleep=clock.sleep)
    pacer = KeyPacer(rate=pace, clock=clock.thread_now, sleep=clock.sleep)
    pool = type("Pool", (ClockedExecutor,), {"clock": clock, "tasks": 0})
    invocations: list[dict[str, Any]] = []
    retries = 0
    with patch.object(apply, "ThreadPoolExecutor", pool):
        while len(invocations) < 200:
            first_kill = kill_first_after is not None and not invocations
            inv = Invocation(clock, kill_first_after if first_kill else limit)  # type: ignore[arg-type]
            sim.invocation = inv
            end = "returned"
            try:
                cp = sync_slice(rt, DRUG, c.batch_id,
                                time_left=lambda inv=inv: limit - inv.elapsed(),
                                reserve=reserve, chunk_size=chunk_size, workers=workers,
                                backoff=backoff, pacer=pacer)
            except InvocationTimeout:
                end = "killed"
            except Throttled:
                end = "throttled"
            if end != "returned":
                cp = load_checkpoint(rt.store, DRUG.name, c.batch_id, name)
            invocations.append({"seconds": inv.elapsed(), "end": end, "after": cp.after,
                                "entities": cp.entities})
            if end == "throttled":
                assert retries < SYNC_RETRY["attempts"], "the state machine would fail the batch"
                clock.sleep(min(SYNC_RETRY["max_delay"],
                                SYNC_RETRY["interval"] * SYNC_RETRY["backoff"] ** retries))
                retries += 1
                continue
            retries = 0
            if cp.done:
                assert pool.tasks > 0  # the applier's pool really ran on the virtual clock
                return Simulation(sim, rt, invocations)
    raise AssertionError(f"sync did not finish in {len(invocations)} invocations")


def plain_sync(c: Conformed) -> Runtime:
    rt = Runtime(c.rt.settings.with_(dynamodb_table=f"t-{uuid.uuid4().hex[:12]}"),
                 _store=c.rt.store, _engine=c.rt.engine, _dynamodb=c.rt.dynamodb)
    sync_batch(rt, DRUG, c.batch_id)
    return rt


# Chunks of 16 and 24 drugs: about 500 and 700 writes (30 per drug: V#CURRENT, token and rank
# items), so a throttled chunk still fits its invocation several times over.
@pytest.mark.parametrize(("pace", "chunk", "limit"), [(900.0, 16, 3.0), (1e9, 24, 2.5)],
                         ids=["paced", "unpaced"])
def test_sliced_sync_under_throttling_equals_one_local_sync(sample_batch: Conformed,
                                                             pace: float, chunk: int,
                                                             limit: float) -> None:
    """Paced under the limit, or not paced at all (throttled, then waited out): the same
    items as one plain local sync, every invocation within its limit."""
    reference = plain_sync(sample_batch)
    s = simulate(sample_batch, limit=limit, reserve=0.3, chunk_size=chunk, pace=pace)
    try:
        assert len(s.invocations) >= 3, s.invocations  # the limit really cut the work
        assert all(i["end"] == "returned" for i in s.invocations)
        assert all(i["seconds"] <= limit for i in s.invocations), s.invocations
        hot = s.sim.writes_by_pk["SEARCH#DRUG"]
        if pace > 1000.0:
            assert s.sim.throttled > 0  # the hot key was throttled, and the sync waited it out
        client = sample_batch.rt.dynamodb
        digest = table_digest(client, s.rt.settings.dynamodb_table)
        assert digest == table_digest(client, reference.settings.dynamodb_table)
        assert digest == projection_digest(sample_batch.rt)  # what the full-size test compares
        cp = load_checkpoint(s.rt.store, DRUG.name, sample_batch.batch_id,
                             s.rt.settings.dynamodb_table)
        assert cp.done and cp.invocations == len(s.invocations)
        # The virtual time is bounded below by the hot key's writes at 1,000 per second.
        assert s.sim.clock.now() >= hot / 1000.0 - 1.0
    finally:
        delete_table(sample_batch.rt.dynamodb, s.rt.settings.dynamodb_table)
        delete_table(sample_batch.rt.dynamodb, reference.settings.dynamodb_table)


def test_restart_resumes_after_the_checkpoint(sample_batch: Conformed) -> None:
    """The first invocation dies mid-chunk; the next ones never rewrite finished chunks."""
    s = simulate(sample_batch, limit=3.0, reserve=0.3, chunk_size=16, kill_first_after=1.5)
    try:
        first = s.invocations[0]
        assert first["end"] == "killed" and first["entities"] > 0
        finished = first["after"]
        # Each INSERT of this first batch writes its V#CURRENT once: keys of chunks finished
        # before the crash were not written again by the later invocations.
        item_writes = {pk[len("ITEM#DRUG#"):]: n for pk, n in s.sim.writes_by_pk.items()
                       if pk.startswith("ITEM#DRUG#")}
        done_keys = [k for k in item_writes if k <= finished]
        assert len(done_keys) == first["entities"]
        assert all(item_writes[k] == 1 for k in done_keys)
        assert load_checkpoint(s.rt.store, DRUG.name, sample_batch.batch_id,
                             s.rt.settings.dynamodb_table).done
    finally:
        delete_table(sample_batch.rt.dynamodb, s.rt.settings.dynamodb_table)


def test_sustained_throttling_ends_the_slice_at_its_checkpoint(sample_batch: Conformed) -> None:
    """The search key refuses every write for 40 s, far past the retry budget: the invocation
    caught in it ends at its last checkpoint, the next one (still in the outage) finishes no
    chunk and raises Throttled, the state machine's Retry waits, and the sync completes with
    the same items as one plain local sync."""
    reference = plain_sync(sample_batch)
    s = simulate(sample_batch, limit=20.0, reserve=0.3, chunk_size=16, attempts=8,
                 outages={"SEARCH#DRUG": (2.0, 40.0)})
    try:
        ends = [i["end"] for i in s.invocations]
        assert ends[:2] == ["returned", "throttled"] and ends[-1] == "returned", s.invocations
        first = s.invocations[0]
        assert 0 < first["entities"] < 250 and s.invocations[1]["entities"] == first["entities"]
        assert all(i["seconds"] <= 20.0 for i in s.invocations), s.invocations
        cp = load_checkpoint(s.rt.store, DRUG.name, sample_batch.batch_id,
                             s.rt.settings.dynamodb_table)
        assert cp.done and cp.throttled >= 2
        client = sample_batch.rt.dynamodb
        assert table_digest(client, s.rt.settings.dynamodb_table) == \
            table_digest(client, reference.settings.dynamodb_table)
    finally:
        delete_table(sample_batch.rt.dynamodb, s.rt.settings.dynamodb_table)
        delete_table(sample_batch.rt.dynamodb, reference.settings.dynamodb_table)


def test_done_checkpoint_makes_a_repeat_a_no_op(sample_batch: Conformed) -> None:
    s = simulate(sample_batch, limit=60.0, reserve=1.0, chunk_size=1000)
    try:
        requests = s.sim.requests
        cp = sync_slice(s.rt, DRUG, sample_batch.batch_id, time_left=lambda: 60.0)
        assert cp.done and s.sim.requests == requests
    finally:
        delete_table(sample_batch.rt.dynamodb, s.rt.settings.dynamodb_table)


# The full directory's first sync writes ~5.4M items (~5.2M under SEARCH#DRUG, rank items
# included), which dynalite alone needs over ten minutes to take in on two cores. By default the
# simulation therefore runs a proportional slice: every 4th product of the full directory with
# its packages, the invocation limit, reserve and chunk size divided by 4, so each invocation
# holds the same share of the work as at full size and the simulated time times 4 estimates the
# full load. PPSTACK_FULL_SIMULATION=1 runs the whole directory with Lambda's 15 minutes.
FULL = os.environ.get("PPSTACK_FULL_SIMULATION") == "1"
SCALE = 1 if FULL else 4


@pytest.mark.slow
def test_full_directory_first_sync_finishes_across_lambda_invocations(
        tmp_path_factory: pytest.TempPathFactory, dynalite_endpoint: str,
        full_fda_files: dict[str, Path]) -> None:
    """Every invocation ends in time, and the table holds exactly the items a plain local sync
    leaves (computed once from the conformed rows; a second sync into dynalite would double the
    cost)."""
    t0 = time.monotonic()
    home = tmp_path_factory.mktemp("slices-full")
    files = [full_fda_files["product"], full_fda_files["package"]] if FULL else \
        thin(full_fda_files, home / "files", SCALE)
    c = conform(home, dynalite_endpoint, files, "2019-04-29")
    limit = 900.0 / SCALE
    s = simulate(c, limit=limit, reserve=120.0 / SCALE, chunk_size=1000 // SCALE)
    try:
        seconds = [round(i["seconds"]) for i in s.invocations]
        assert all(i["end"] == "returned" for i in s.invocations)
        assert all(i["seconds"] <= limit - 60.0 / SCALE for i in s.invocations), seconds
        actual = table_digest(c.rt.dynamodb, s.rt.settings.dynamodb_table)
        print(f"\nfirst sync of 1/{SCALE} of the full directory: {s.minutes:.1f} simulated "
              f"minutes (x{SCALE}: {s.minutes * SCALE:.0f}), {len(seconds)} invocations of "
              f"{seconds} s (limit {limit:g}), {actual[0]} items, "
              f"{s.sim.writes_by_pk['SEARCH#DRUG']} writes to SEARCH#DRUG, "
              f"{s.sim.throttled} throttled requests; {time.monotonic() - t0:.0f} s real")
        assert actual == projection_digest(c.rt)
        # the hot key bounds the time from below: its writes at 1,000 per second
        assert s.sim.clock.now() >= s.sim.writes_by_pk["SEARCH#DRUG"] / 1000.0
    finally:
        # The table is left to the session's server and its temporary home: dynalite deletes a
        # table item by item, which would take as long again.
        c.rt.close()
