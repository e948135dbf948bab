"""Benchmark: the local full load, from the FDA files to an API that answers, beside dynalite's
raw write time for the same items.

In one run on one fresh home and one dynalite (started before the clock, as a user's would be):

(a) the whole load: ``ppstack ingest DRUG FDA_NDC product.txt package.txt`` in a fresh process
    (archive -> stage -> close -> insert -> DynamoDB sync of all 180,607 drugs), then ``ppstack
    serve`` in a fresh process, until ``GET /drug/{ndc}`` answers 200;
(b) dynalite's raw BatchWriteItem time for the same number of items (the projection of the
    conformed rows: the items the sync wrote), unconditional 25-item puts, 8 requests in flight,
    into a fresh table.

Prints one line: the whole load, its parts, the raw write time and the ratio. Target: whole
load <= 1.3 x the raw write time.

    .venv/bin/python bench/bench_full_load.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from prepared import DAY1 as DAY
from prepared import PPSTACK, free_port, full_files, serving

PROBE = "00002322730"  # Strattera 0002-3227-30: in the full file


def wait_for_api(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/drug/{PROBE}", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.02)
    sys.exit("the API did not answer within the deadline")


def main() -> None:
    product, package = full_files(DAY)
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG
    from ppstack.serving import dynalite
    from ppstack.serving.projection import project
    from ppstack.serving.read import all_rows
    from ppstack.serving.rebuild import write_items
    from ppstack.serving.table import ensure_table
    from ppstack.settings import load_settings

    home = Path(tempfile.mkdtemp(prefix="ppstack-bench-load-"))
    port = str(free_port())
    settings = load_settings(backend="local", home=str(home), dynamodb_port=port)
    env = {**os.environ, "PPSTACK_HOME": str(home), "PPSTACK_DYNAMODB_PORT": port}
    try:
        dynalite.ensure_running(settings)
        started = time.perf_counter()
        out = subprocess.run([str(PPSTACK), "-q", "ingest", "DRUG", "FDA_NDC",
                              str(product), str(package), "--date", DAY,
                              "--format", "json"],
                             env=env, check=True, capture_output=True, text=True).stdout
        ingested = time.perf_counter()
        with serving(env) as base:
            wait_for_api(base, time.monotonic() + 120)
            answered = time.perf_counter()
        record = json.loads(out)
        steps = record["timings"]
        archive_s = (ingested - started) - sum(steps.values())
        writes = record["dynamodb"].get("writes", 0)

        with Runtime(settings) as rt:
            items = list(project(DRUG, all_rows(rt, DRUG)).values())
            table = f"bench-raw-{uuid.uuid4().hex[:8]}"
            ensure_table(rt.dynamodb, table)
            t = time.perf_counter()
            write_items(rt.dynamodb, table, items, workers=8)
            raw_s = time.perf_counter() - t
        total = answered - started
        parts = ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
        print(f"full load (full FDA file, {record['counts'].get('staged', 0):,} drugs, "
              f"{writes:,} DynamoDB writes): {total:.1f} s to the first API answer (archive + "
              f"process start {archive_s:.1f}, {parts}, serve {answered - ingested:.1f}) vs "
              f"dynalite raw BatchWriteItem of {len(items):,} items {raw_s:.1f} s: "
              f"{total / raw_s:.2f}x")
    finally:
        dynalite.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
