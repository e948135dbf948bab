"""Benchmark archive + renditions + staging of the full real FDA files (layers 1-2, local backend).

    .venv/bin/python bench/bench_stage.py [--runs 3]

Each run is a fresh subprocess with a fresh PPSTACK_HOME (so peak RSS is that run's alone): it
archives ../shared/data/fda_ndc/{product,package}_2019-04-29.txt (originals + Parquet
renditions), then stages DRUG FDA_NDC 2019-04-29 through the local engine (rejects CTAS, batch
CTAS, drops, counts). Printed: per-run phase times, the median wall time and median peak RSS.
Targets: <= 4 s and <= 1 GB. No assertions.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time

from prepared import full_files, run_in_child


def one_run(home: str) -> dict:
    """Runs inside the child process."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG, SOURCES
    from ppstack.pipeline.stage import stage
    from ppstack.raw.archive import archive
    from ppstack.settings import load_settings

    rt = Runtime(load_settings(backend="local", home=home, dynamodb_endpoint="http://127.0.0.1:9"))
    t0 = time.perf_counter()
    archive(rt, DRUG, SOURCES["FDA_NDC"], list(full_files()), "2019-04-29")
    t1 = time.perf_counter()
    result = stage(rt, DRUG, "FDA_NDC", "2019-04-29", "20190429T060000.000000Z")
    t2 = time.perf_counter()
    rt.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"archive_s": t1 - t0, "stage_s": t2 - t1, "total_s": t2 - t0,
            "peak_rss_mb": peak_kb / 1024, "staged": result.staged,
            "stage_phases": {k: round(v, 3) for k, v in result.timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    full_files()  # exits when the files are absent
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-stage-") as home:
            run = run_in_child(one_run, home)
            runs.append(run)
            print(f"run {i + 1}: total {run['total_s']:.2f} s (archive {run['archive_s']:.2f} s, "
                  f"stage {run['stage_s']:.2f} s {run['stage_phases']}), "
                  f"peak RSS {run['peak_rss_mb']:.0f} MB, staged {run['staged']:,}")
    print(f"median wall time (archive + renditions + staging): "
          f"{statistics.median(r['total_s'] for r in runs):.2f} s   (target <= 4 s)")
    print(f"median stage time: {statistics.median(r['stage_s'] for r in runs):.2f} s")
    rss = statistics.median(r["peak_rss_mb"] for r in runs)
    print(f"median peak RSS: {rss:.0f} MB   (target <= 1024 MB)")


if __name__ == "__main__":
    main()
