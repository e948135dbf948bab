"""Benchmark: the incremental SCD2 close + insert of a next-day batch on the full FDA files.

Setup (not timed): the full real 2019-04-29 files (../shared/data/fda_ndc) are the initial load;
``ppstack.scenario.next_day_batch`` derives the next day with ~1 % changed, 0.5 % new and 0.5 %
disappeared keys. Both are archived and run through the real pipeline (stage -> close -> insert;
no DynamoDB), day 2 only up to ``staged``. That state is copied once per run, and a fresh process
runs the two SCD2 statements of day 2 (one MERGE, one INSERT ... SELECT) on the local engine.

Prints the median wall time of close + insert over the runs and the peak RSS of the measuring
process (imports included). Target on the 2-core machine: <= 3 s and <= 1.5 GB.

    .venv/bin/python bench/bench_scd2.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "fda_ndc"
DAY1 = "2019-04-29"


def prepare(work: Path) -> tuple[Path, str]:
    """Home with day 1 applied and day 2 staged; returns (home, day-2 batch id)."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG, get_source
    from ppstack.pipeline.lock import SimulatedKill
    from ppstack.pipeline.run import run_batch
    from ppstack.pipeline.steps import CLOSE, INSERT, STAGE
    from ppstack.raw.archive import archive
    from ppstack.scenario import next_day_batch
    from ppstack.settings import load_settings

    scenario = next_day_batch(SHARED / f"product_{DAY1}.txt", SHARED / f"package_{DAY1}.txt",
                              work / "scenario", DAY1, seed=7)
    home = work / "home"
    rt = Runtime(load_settings(backend="local", home=str(home)))
    steps = (STAGE, CLOSE, INSERT)
    day2 = scenario.snapshots[1]
    for snap in scenario.snapshots:
        t = time.perf_counter()
        archive(rt, DRUG, get_source(DRUG, "FDA_NDC"), list(scenario.files(snap.date)), snap.date)
        try:
            rec = run_batch(rt, DRUG, "FDA_NDC", snap.date, steps=steps,
                            stop_after="stage" if snap is day2 else None)
            print(f"setup {snap.date}: {rec.counts} in {time.perf_counter() - t:.1f} s",
                  file=sys.stderr)
        except SimulatedKill:
            print(f"setup {snap.date}: staged in {time.perf_counter() - t:.1f} s; expected "
                  f"{day2.counts()}", file=sys.stderr)
    from ppstack.pipeline.ledger import Ledger

    batch_id = Ledger(rt.store).latest(DRUG.name).batch_id
    rt.close()
    return home, batch_id


def measure(home: str, batch_id: str) -> None:
    """In a fresh process: time close + insert of the staged day-2 batch."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG
    from ppstack.pipeline.ledger import Ledger
    from ppstack.pipeline.steps import BatchContext, close_step, insert_step
    from ppstack.settings import load_settings

    rt = Runtime(load_settings(backend="local", home=home))
    record = Ledger(rt.store).load(DRUG.name, batch_id)
    ctx = BatchContext(rt=rt, spec=DRUG, source="FDA_NDC", record=record)
    rt.engine.snapshots("conformed", "drug")  # open the catalog: not part of the steps
    t0 = time.perf_counter()
    closed = close_step(ctx)
    t1 = time.perf_counter()
    inserted = insert_step(ctx)
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"close_s": t1 - t0, "insert_s": t2 - t1, "total_s": t2 - t0,
                      "peak_rss_mb": peak_mb, "closed_rows": closed["closed_rows"],
                      "opened_rows": inserted["opened_rows"], "counts": inserted["counts"]}))
    rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("HOME", "BATCH_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    if not (SHARED / f"product_{DAY1}.txt").is_file():
        sys.exit(f"full FDA files not found under {SHARED}")
    work = Path(tempfile.mkdtemp(prefix="ppstack-bench-scd2-"))
    try:
        home, batch_id = prepare(work)
        results = []
        for n in range(args.runs):
            copy = work / f"run{n}"
            shutil.copytree(home, copy)
            out = subprocess.run([sys.executable, __file__, "--measure", str(copy), batch_id],
                                 check=True, capture_output=True, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            print(f"run {n + 1}: {results[-1]}", file=sys.stderr)
        med = statistics.median(r["total_s"] for r in results)
        rss = max(r["peak_rss_mb"] for r in results)
        print(f"scd2 close+insert (next-day batch, full FDA file): median {med:.2f} s over "
              f"{len(results)} runs (close {statistics.median(r['close_s'] for r in results):.2f} s, "
              f"insert {statistics.median(r['insert_s'] for r in results):.2f} s); "
              f"peak RSS {rss:.0f} MB; batch {results[0]['counts']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
