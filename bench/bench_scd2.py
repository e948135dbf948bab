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
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from prepared import next_day_home_in_child, on_copies, run_in_child


def prepare(work: Path) -> tuple[Path, str]:
    """Home with day 1 applied and day 2 staged; returns (home, day-2 batch id)."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG
    from ppstack.pipeline.ledger import Ledger
    from ppstack.settings import load_settings

    home, _day2 = next_day_home_in_child(work, stage_day2=True)
    with Runtime(load_settings(backend="local", home=str(home))) as rt:
        return home, Ledger(rt.store).latest(DRUG.name).batch_id


def measure(home: str, batch_id: str) -> dict[str, Any]:
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
    rt.close()
    return {"close_s": t1 - t0, "insert_s": t2 - t1, "total_s": t2 - t0,
            "peak_rss_mb": peak_mb, "closed_rows": closed["closed_rows"],
            "opened_rows": inserted["opened_rows"], "counts": inserted["counts"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ppstack-bench-scd2-",
                                     ignore_cleanup_errors=True) as scratch:
        work = Path(scratch)
        home, batch_id = prepare(work)

        def run(copy: Path) -> dict[str, Any]:
            result: dict[str, Any] = run_in_child(measure, str(copy), batch_id)
            print(f"run: {result}", file=sys.stderr)
            return result

        results = list(on_copies(home, work, args.runs, run))
        med, close, insert = (statistics.median(r[k] for r in results)
                              for k in ("total_s", "close_s", "insert_s"))
        rss = max(r["peak_rss_mb"] for r in results)
        print(f"scd2 close+insert (next-day batch, full FDA file): median {med:.2f} s over "
              f"{len(results)} runs (close {close:.2f} s, insert {insert:.2f} s); "
              f"peak RSS {rss:.0f} MB; batch {results[0]['counts']}")


if __name__ == "__main__":
    main()
