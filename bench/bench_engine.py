"""Benchmark of the local engine on the SCD2 hot path: MERGE (close) + INSERT on ~180k rows.

Why: the incremental SCD2 step (scd2_close MERGE + scd2_insert INSERT, both committing an Iceberg
snapshot) must stay within ~3 s locally for a 180k-row conformed table and a batch that changes
~2 % of the keys. This builds that situation from synthetic data with the real templates and
prints medians of 3 batches (no assertions: numbers, not tests).

    .venv/bin/python bench/bench_engine.py [--rows 180000] [--change 0.02]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from ppstack.engine.local import LocalEngine
from ppstack.entities import get_entity
from ppstack.entities.sources import FDA_NDC
from ppstack.entities.spec import staging_columns
from ppstack.layout import new_batch_id
from ppstack.settings import load_settings
from ppstack.sql import render
from ppstack.sql.params import batch_params, entity_params, staging_ddl_params

SPEC = get_entity("DRUG")


def _row(i: int, version: int, batch_id: str, day: date) -> dict[str, object]:
    row: dict[str, object] = {}
    for c in SPEC.fields:
        if c.type == "date":
            row[c.name] = date(2000, 1, 1) + timedelta(days=i % 5000)
        elif c.name == SPEC.key:
            row[c.name] = f"{i:011d}"
        else:
            row[c.name] = f"{c.name} value {i % 977} v{version if c.name == 'strength' else 0}"
    row.update(source_effective_date=day, source_file_date=day,
               ingestion_timestamp=datetime(day.year, day.month, day.day, 6),
               ingestion_batch_id=batch_id, fingerprint=f"fp-{i}-{version}",
               source_system="FDA_NDC")
    return row


def write_batch(home: str, batch_id: str, keys: dict[int, int], day: date) -> None:
    """One staged batch as Parquet where the CTAS would have put it (all key versions given)."""
    rows = [_row(i, v, batch_id, day) for i, v in keys.items()]
    types = {"string": pa.string(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
             "bigint": pa.int64()}
    schema = pa.schema([(c.name, types[c.type]) for c in staging_columns(SPEC)])
    table = pa.Table.from_pylist(rows, schema=schema)
    path = f"{home}/s3/pp-archive/staging/DRUG/{batch_id}"
    import os

    os.makedirs(path, exist_ok=True)
    pq.write_table(table, f"{path}/part-00000.parquet")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=180_000)
    ap.add_argument("--change", type=float, default=0.02)
    args = ap.parse_args()
    rnd = random.Random(7)
    home = tempfile.mkdtemp(prefix="ppstack-bench-")
    settings = load_settings(backend="local", home=home)
    engine = LocalEngine(settings)
    base = entity_params(SPEC, engine, settings.bucket)
    engine.execute("CREATE DATABASE IF NOT EXISTS staging")
    engine.execute(render("ddl_staging_batch",
                          {**base, **staging_ddl_params(SPEC, settings.bucket)}))
    engine.execute(render("ddl_conformed", base))

    keys = {i: 0 for i in range(args.rows)}
    day = date(2025, 1, 1)
    merges, inserts, totals = [], [], []
    for n in range(4):
        batch = new_batch_id(datetime(2025, 1, 1, 6) + timedelta(days=n))
        if n:
            live = list(keys)
            for i in rnd.sample(live, int(len(live) * args.change)):
                keys[i] += 1  # changed
            for i in rnd.sample(live, int(len(live) * args.change / 4)):
                del keys[i]  # disappeared
            top = max(keys) + 1
            for i in range(top, top + int(args.rows * args.change / 4)):
                keys[i] = 0  # new
        write_batch(home, batch, keys, day)
        params = {**base, **batch_params(SPEC, FDA_NDC, day.isoformat(), batch, settings.bucket)}
        t0 = time.perf_counter()
        closed = engine.execute(render("scd2_close", params)).rowcount
        t1 = time.perf_counter()
        inserted = engine.execute(render("scd2_insert", params)).rowcount
        t2 = time.perf_counter()
        label = "initial load" if n == 0 else f"batch {n}"
        print(f"{label}: close {closed} rows {t1 - t0:.3f}s, insert {inserted} rows {t2 - t1:.3f}s")
        if n:
            merges.append(t1 - t0)
            inserts.append(t2 - t1)
            totals.append(t2 - t0)
        day += timedelta(days=1)
    total = engine.execute("SELECT count(*) FROM conformed.drug").scalar()
    # A fresh engine (new process in the CLI) has no snapshot cache: first read is a full scan.
    fresh = LocalEngine(settings)
    t0 = time.perf_counter()
    fresh.execute("SELECT count(*) FROM conformed.drug WHERE is_current")
    cold = time.perf_counter() - t0
    print(f"conformed rows: {total}")
    print(f"median MERGE (close) incl. commit : {statistics.median(merges):.3f}s")
    print(f"median INSERT incl. commit        : {statistics.median(inserts):.3f}s")
    print(f"median close + insert             : {statistics.median(totals):.3f}s")
    print(f"cold read of the table (new engine): {cold:.3f}s")


if __name__ == "__main__":
    main()
