"""Benchmark: does the daily batch cost follow the change, not the history? 60 days in a row.

Setup: the full real 2019-04-29 files (../shared/data/fda_ndc) are day 0; the scenario
generator derives 60 consecutive daily deliveries from them (each about 1 % changed, 0.5 % new,
0.5 % gone, plus a few reactivated and duplicated packages). Day 0 is applied once (not timed).
Then, for each day: archive it (not timed), and apply it in a fresh process (stage -> close ->
insert, the batch without its DynamoDB sync), timed as a whole. Every 7th day ``ppstack
maintain`` runs (not timed) with a retention of the newest 14 snapshots, as S3 Tables' own
maintenance would between batches on AWS.

Prints one line: the batch time at days 1, 30 and 60 (each the median of that day and its two
neighbours, since the shared machine is noisy), day 60 / day 1, and the data-file, delete-file
and snapshot counts of the conformed table at those days. Target: day 60 <= 1.3 x day 1.

    .venv/bin/python bench/bench_growth.py [--days 60]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from prepared import DAY1 as DAY0
from prepared import full_files, run_in_child

MAINTAIN_EVERY = 7
KEEP_SNAPSHOTS = 14


def apply_day(home: str, day: str) -> None:
    """In a fresh process: stage -> close -> insert of an archived day (a complete batch)."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG
    from ppstack.pipeline.run import run_batch
    from ppstack.pipeline.steps import CLOSE, INSERT, STAGE
    from ppstack.settings import load_settings

    with Runtime(load_settings(backend="local", home=home)) as rt:
        run_batch(rt, DRUG, "FDA_NDC", day, steps=(STAGE, CLOSE, INSERT))


def table_state(rt: object) -> tuple[int, int, int]:
    """(data files, delete files, snapshots) of conformed.drug."""
    from ppstack.engine.maintenance import file_counts

    store = rt.engine.iceberg  # type: ignore[attr-defined]
    table = store.load("conformed", "drug")
    data, deletes = file_counts(table)
    return data, deletes, len(table.snapshots())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    product, package = full_files(DAY0)
    if args.days < 3:
        sys.exit("--days must be at least 3")

    from ppstack.backends import Runtime
    from ppstack.entities import DRUG, get_source
    from ppstack.pipeline.maintain import maintain_entity
    from ppstack.pipeline.run import run_batch
    from ppstack.pipeline.steps import CLOSE, INSERT, STAGE
    from ppstack.raw.archive import archive
    from ppstack.scenario import derive_scenario
    from ppstack.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="ppstack-bench-growth-",
                                     ignore_cleanup_errors=True) as scratch:
        work = Path(scratch)
        dates = [(date.fromisoformat(DAY0) + timedelta(days=i)).isoformat()
                 for i in range(args.days + 1)]
        t = time.perf_counter()
        scenario = derive_scenario(product, package, work / "scenario", dates=dates, seed=7,
                                   base_holdback_share=0.0)
        print(f"scenario of {len(dates)} days in {time.perf_counter() - t:.0f} s",
              file=sys.stderr)
        home = str(work / "home")
        source = get_source(DRUG, "FDA_NDC")
        seconds: dict[int, float] = {}
        state: dict[int, tuple[int, int, int]] = {}
        with Runtime(load_settings(backend="local", home=home)) as rt:
            archive(rt, DRUG, source, list(scenario.files(DAY0)), DAY0)
            run_batch(rt, DRUG, "FDA_NDC", DAY0, steps=(STAGE, CLOSE, INSERT))
        env = {**os.environ, "PPSTACK_HOME": home}
        for n, day in enumerate(dates[1:], start=1):
            with Runtime(load_settings(backend="local", home=home)) as rt:
                archive(rt, DRUG, source, list(scenario.files(day)), day)
            shutil.rmtree(work / "scenario" / day, ignore_errors=True)  # keep the disk small
            started = time.perf_counter()
            run_in_child(apply_day, home, day, env=env)
            seconds[n] = time.perf_counter() - started
            with Runtime(load_settings(backend="local", home=home)) as rt:
                state[n] = table_state(rt)
                note = ""
                if n % MAINTAIN_EVERY == 0:
                    m = time.perf_counter()
                    maintain_entity(rt, DRUG, max_age_hours=0, min_keep=KEEP_SNAPSHOTS)
                    note = f"; maintain {time.perf_counter() - m:.1f} s -> {table_state(rt)}"
            print(f"day {n:2d} {day}: {seconds[n]:.2f} s, (data files, delete files, "
                  f"snapshots) {state[n]}{note}", file=sys.stderr)

        def around(n: int) -> float:
            return statistics.median(seconds[k] for k in (n - 1, n, n + 1) if k in seconds)

        last, mid = args.days, max(2, args.days // 2)
        first_s, mid_s, last_s = around(1), around(mid), around(last)
        print(f"growth ({args.days} daily ~1 % batches on the full FDA file, fresh process each, "
              f"maintain every {MAINTAIN_EVERY} days): day 1 {first_s:.2f} s, day {mid} "
              f"{mid_s:.2f} s, day {last} {last_s:.2f} s (day {last} / day 1 = "
              f"{last_s / first_s:.2f}); (data files, delete files, snapshots) day 1 {state[1]}, "
              f"day {mid} {state[mid]}, day {last} {state[last]}")


if __name__ == "__main__":
    main()
