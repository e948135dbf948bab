"""Benchmark: ``ppstack replay DRUG`` of the full real file plus two derived next days.

Setup (not timed): the full real 2019-04-29 files (../shared/data/fda_ndc) are day 1; the
scenario generator (``derive_scenario``) derives days 2 and 3 (0.5 % new, 1 % changed, 0.5 %
gone, some reactivated and some listed twice). Two homes archive the same three deliveries:

- **batch by batch**: ``run_batch`` applies day 1, 2, 3 in order (stage -> close -> insert);
- **replay**: nothing applied; one fresh ``ppstack replay DRUG`` process (timed: wall time and
  peak RSS) rebuilds ``conformed.drug`` from the archive, checks it, promotes it and brings the
  (empty) local DynamoDB table in step with it, so most of its time is the 2.1M DynamoDB writes
  to dynalite (see the phase times printed on stderr).

Then it asserts that the replayed table equals the batch-by-batch one in business columns,
intervals and fingerprints (every column but those naming the run: ingestion batch id and time,
opening batch id), and that ``reconcile`` finds no difference between DynamoDB and the table.

Prints one line: median replay wall time over the runs (each on a fresh copy of the archived
home), the largest peak RSS, the phase times of the last run and the load average.

    .venv/bin/python bench/bench_replay.py [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "fda_ndc"
DAYS = ["2019-04-29", "2019-04-30", "2019-05-01"]
PPSTACK = Path(sys.executable).parent / "ppstack"
RUN_COLUMNS = ("ingestion_batch_id", "ingestion_timestamp", "opened_batch_id")


def settings_for(home: Path) -> Any:
    from ppstack.settings import load_settings

    return load_settings(backend="local", home=str(home))


def prepare(work: Path) -> tuple[Path, Path]:
    """(batch-by-batch home with the three days applied, replay home with them archived)."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG, get_source
    from ppstack.pipeline.run import run_batch
    from ppstack.pipeline.steps import CLOSE, INSERT, STAGE
    from ppstack.raw.archive import archive
    from ppstack.scenario import derive_scenario

    scenario = derive_scenario(SHARED / f"product_{DAYS[0]}.txt",
                               SHARED / f"package_{DAYS[0]}.txt", work / "scenario",
                               dates=DAYS, seed=7)
    homes = work / "batch_by_batch", work / "replay"
    for home in homes:
        with Runtime(settings_for(home)) as rt:
            for snap in scenario.snapshots:
                archive(rt, DRUG, get_source(DRUG, "FDA_NDC"), list(scenario.files(snap.date)),
                        snap.date)
            if home == homes[0]:
                for day in DAYS:
                    record = run_batch(rt, DRUG, "FDA_NDC", day, steps=(STAGE, CLOSE, INSERT))
                    print(f"batch by batch {day}: {record.counts}", file=sys.stderr)
    return homes


def replay_once(home: Path) -> tuple[float, float, dict[str, Any]]:
    """One fresh ``ppstack replay DRUG`` process: (wall seconds, peak RSS MB, its ledger
    record as ``--format json`` prints it)."""
    env = {**os.environ, "PPSTACK_HOME": str(home)}
    cmd = [str(PPSTACK), "-q", "replay", "DRUG", "--format", "json"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"ppstack replay failed ({proc.returncode}):\n{out.decode()}\n{err.decode()}")
    import resource

    # the largest child reaped so far: the replay process (dynalite is its own server)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak, dict(json.loads(out)["replay"])


def business_rows(home: Path) -> list[tuple[Any, ...]]:
    """conformed.drug without the columns that name the run, sorted."""
    from ppstack.backends import Runtime

    with Runtime(settings_for(home)) as rt:
        rows = rt.engine.execute("SELECT * FROM conformed.drug").dicts()
    return sorted(tuple(sorted((k, "" if v is None else str(v)) for k, v in r.items()
                               if k not in RUN_COLUMNS)) for r in rows)


def reconcile_differences(home: Path) -> int:
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG
    from ppstack.serving.reconcile import reconcile

    with Runtime(settings_for(home)) as rt:
        return len(reconcile(rt, DRUG))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if not (SHARED / f"product_{DAYS[0]}.txt").is_file():
        sys.exit(f"skipped: the full FDA files are not under {SHARED}")
    work = Path(tempfile.mkdtemp(prefix="ppstack-bench-replay-"))
    try:
        batch_home, replay_home = prepare(work)
        expected = business_rows(batch_home)
        walls, peaks = [], []
        record: dict[str, Any] = {}
        for n in range(args.runs):
            copy = work / f"run{n}"
            shutil.copytree(replay_home, copy)
            wall, peak, record = replay_once(copy)
            walls.append(wall)
            peaks.append(peak)
            print(f"run {n + 1}: {wall:.1f} s wall, peak RSS {peak:.0f} MB, phases "
                  f"{record.get('timings')}", file=sys.stderr)
            got = business_rows(copy)
            if got != expected:
                sys.exit(f"replay differs from the batch-by-batch run: {len(got)} vs "
                         f"{len(expected)} rows, {len(set(got) ^ set(expected))} differ")
            differences = reconcile_differences(copy)
            if differences:
                sys.exit(f"reconcile after the replay found {differences} difference(s)")
            if n + 1 < args.runs:
                shutil.rmtree(copy, ignore_errors=True)
        phases = dict(record.get("timings") or {})
        print(f"replay (ppstack replay DRUG, full FDA file + 2 derived days, fresh process, "
              f"empty DynamoDB): median {statistics.median(walls):.1f} s wall over {len(walls)} "
              f"run(s), peak RSS {max(peaks):.0f} MB; phases "
              + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
              + f"; {len(expected):,} conformed rows equal to batch by batch, reconcile empty; "
              f"load average {os.getloadavg()[0]:.1f}; {record.get('counts')}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
