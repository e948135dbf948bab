"""Benchmark layer 4 on the real local DynamoDB server (dynalite): ceiling, rebuild, 1 % sync.

Prints, from one run on one fresh dynalite:

(a) the emulator's raw BatchWriteItem ceiling: unconditional 25-item puts of the same items the
    rebuild writes, ``--workers`` requests in flight (items/s, median of ``--runs``);
(b) rebuild items/s: ``rebuild_rows`` of the conformed rows (projection included), and its share
    of the ceiling (target >= 80 %);
(c) ~1 % incremental batches (1 % changed, 0.5 % new, 0.5 % disappeared keys, derived from the
    real file by ``ppstack.scenario``): the DynamoDB writes of each and the median sync time.

The conformed table is made by the real pipeline (archive -> stage -> close -> insert on the
local engine) from the full FDA files in ../shared/data/fda_ndc, or the bundled extract when they
are absent. The full directory is ~2.1M items: by default (a) and (b) use a fixed subset, the
first ``--drugs`` NDCs in order (``--drugs 0`` = all); (c) syncs each real batch whole.

Usage:
    python bench/bench_sync.py [--drugs 20000] [--workers 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from prepared import free_port

from ppstack.backends import Runtime
from ppstack.entities import DRUG, get_source
from ppstack.pipeline.run import run_batch
from ppstack.pipeline.steps import CLOSE, INSERT, STAGE
from ppstack.raw.archive import archive
from ppstack.scenario import derive_scenario
from ppstack.serving import dynalite
from ppstack.serving.projection import project
from ppstack.serving.read import all_rows
from ppstack.serving.rebuild import rebuild_rows, write_items
from ppstack.serving.sync import sync_batch
from ppstack.serving.table import delete_table, ensure_table
from ppstack.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT.parent / "shared" / "data" / "fda_ndc"
SAMPLE = ROOT / "src" / "ppstack" / "data" / "sample" / "fda_ndc"
CONFORM = (STAGE, CLOSE, INSERT)  # the pipeline without its sync step: (c) times the sync alone


def source_files() -> tuple[Path, Path]:
    if (FULL / "product_2019-04-29.txt").is_file():
        return FULL / "product_2019-04-29.txt", FULL / "package_2019-04-29.txt"
    return SAMPLE / "product.txt", SAMPLE / "package.txt"


def conform(rt: Runtime, files: tuple[Path, Path], day: str) -> str:
    """Archive one delivery and apply it to conformed.drug; returns the batch id."""
    archive(rt, DRUG, get_source(DRUG, "FDA_NDC"), list(files), day)
    return run_batch(rt, DRUG, "FDA_NDC", day, steps=CONFORM, allow_mass_delete=True).batch_id


def fresh(rt: Runtime) -> Runtime:
    r = Runtime(rt.settings.with_(dynamodb_table=f"bench-{uuid.uuid4().hex[:8]}"),
                _engine=rt.engine, _dynamodb=rt.dynamodb)
    ensure_table(r.dynamodb, r.settings.dynamodb_table)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drugs", type=int, default=20000, help="subset size (0 = every drug)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sync-") as home:
        settings = load_settings(backend="local", home=home, dynamodb_port=str(free_port()))
        rt = Runtime(settings)
        try:
            first = date(2019, 4, 29)
            days = [(first + timedelta(days=i)).isoformat() for i in range(args.runs + 1)]
            t = time.perf_counter()
            scenario = derive_scenario(*source_files(), Path(home) / "deliveries", dates=days,
                                       seed=20190429, new_share=0.005, change_share=0.01,
                                       disappear_share=0.005, reactivate_share=0.0,
                                       duplicate_share=0.0)
            conform(rt, scenario.files(days[0]), days[0])
            rows = all_rows(rt, DRUG)
            keys = sorted({r["ndc"] for r in rows})
            subset = set(keys[: args.drugs]) if args.drugs else set(keys)
            rows = [r for r in rows if r["ndc"] in subset]
            items = list(project(DRUG, rows).values())
            print(f"data: {source_files()[1].parent} -> {len(keys)} drugs conformed by the "
                  f"pipeline in {time.perf_counter() - t:.1f}s; measuring {len(subset)}"
                  f"{' (fixed subset: first NDCs in order)' if len(subset) < len(keys) else ''}; "
                  f"{len(items)} items ({len(items) / len(subset):.1f} per drug); "
                  f"workers={args.workers}", flush=True)

            # (a) raw ceiling on the same items, unconditional BatchWriteItem
            ceilings = []
            for _ in range(args.runs):
                r = fresh(rt)
                t = time.perf_counter()
                write_items(r.dynamodb, r.settings.dynamodb_table, items, workers=args.workers)
                ceilings.append(len(items) / (time.perf_counter() - t))
                delete_table(r.dynamodb, r.settings.dynamodb_table)
            ceiling = statistics.median(ceilings)
            print(f"(a) BatchWriteItem ceiling: {ceiling:,.0f} items/s (median of {args.runs}: "
                  f"{', '.join(f'{c:,.0f}' for c in ceilings)})", flush=True)

            # (b) rebuild from conformed rows (projection included)
            rates = []
            for i in range(args.runs):
                r = fresh(rt)
                t = time.perf_counter()
                stats = rebuild_rows(r, DRUG, rows, workers=args.workers)
                rates.append(stats.items / (time.perf_counter() - t))
                if i < args.runs - 1:
                    delete_table(r.dynamodb, r.settings.dynamodb_table)
            rebuild_rate = statistics.median(rates)
            print(f"(b) rebuild: {rebuild_rate:,.0f} items/s (median of {args.runs}: "
                  f"{', '.join(f'{x:,.0f}' for x in rates)}) = {rebuild_rate / ceiling:.0%} "
                  f"of the ceiling (target >= 80%)", flush=True)

            # (c) ~1 % incremental batches, conformed by the pipeline, synced on the rebuilt table
            times, writes = [], []
            for day in days[1:]:
                batch = conform(rt, scenario.files(day), day)
                t = time.perf_counter()
                s = sync_batch(r, DRUG, batch, workers=args.workers)
                times.append(time.perf_counter() - t)
                writes.append(s.writes)
                print(f"    batch {batch} ({day}): {s.inserted} inserted, {s.updated} updated, "
                      f"{s.deleted} deleted -> {s.writes} writes in {times[-1]:.2f}s", flush=True)
            print(f"(c) ~1% batch: median {statistics.median(writes):.0f} writes, median sync "
                  f"{statistics.median(times):.2f}s over {args.runs} batches", flush=True)
        finally:
            rt.close()
            dynalite.stop(settings)


if __name__ == "__main__":
    sys.exit(main())
