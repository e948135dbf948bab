"""Benchmark layer 4 on the real local DynamoDB server (dynalite): ceiling, rebuild, 1 % sync.

Prints, from one run on one fresh dynalite:

(a) the emulator's raw BatchWriteItem ceiling: unconditional 25-item puts of the same items the
    rebuild writes, ``--workers`` requests in flight (items/s, median of ``--runs``);
(b) rebuild items/s: ``rebuild_rows`` of the conformed rows (projection included), and its share
    of the ceiling (target >= 80 %);
(c) ~1 % incremental batches (about 0.5 % changed, 0.25 % disappeared, 0.25 % new keys): the
    number of DynamoDB writes of each and the median sync time over ``--runs`` batches.

Conformed rows are built from the full FDA files in ../shared/data/fda_ndc (a minimal product +
package join done here, not the pipeline), falling back to the bundled sample. The full file is
~1.9M items: at dynalite's few thousand items/s that is well over 10 minutes, so by default a
fixed subset (the first ``--drugs`` NDCs in sorted order) is measured; ``--drugs 0`` = all.

Usage:
    python bench/bench_sync.py [--drugs 20000] [--workers 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.serving import dynalite
from ppstack.serving.keys import normalize_ndc
from ppstack.serving.projection import project
from ppstack.serving.rebuild import rebuild_rows, write_items
from ppstack.serving.sync import sync_rows
from ppstack.serving.table import delete_table, ensure_table
from ppstack.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT.parent / "shared" / "data" / "fda_ndc"
SAMPLE = ROOT / "src" / "ppstack" / "data" / "sample" / "fda_ndc"
OPEN_END = date(9999, 12, 31)


# ---- minimal FDA parse (bench only; the product path is the staging SQL) ----
def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="cp1252", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _clean(v: str | None) -> str | None:
    s = " ".join((v or "").split())
    return s or None


def _date(v: str | None) -> date | None:
    try:
        return datetime.strptime((v or "").strip(), "%Y%m%d").date()
    except ValueError:
        return None


def load_snapshot(folder: Path) -> dict[str, dict[str, Any]]:
    prod_file = next(folder.glob("product*.txt"))
    pack_file = next(folder.glob("package*.txt"))
    products = {p["PRODUCTID"]: p for p in _read(prod_file) if p.get("NDC_EXCLUDE_FLAG") == "N"}
    out: dict[str, dict[str, Any]] = {}
    for k in _read(pack_file):
        p = products.get(k["PRODUCTID"])
        ndc = normalize_ndc(k["NDCPACKAGECODE"] or "")
        if p is None or ndc is None:
            continue
        nums = (p["ACTIVE_NUMERATOR_STRENGTH"] or "").split(";")
        units = (p["ACTIVE_INGRED_UNIT"] or "").split(";")
        strength = "; ".join(f"{n.strip()} {u.strip()}" for n, u in zip(nums, units, strict=False))
        out[ndc] = {
            "proprietary_name": _clean(p["PROPRIETARYNAME"]),
            "ingredient_list": _clean(p["SUBSTANCENAME"]),
            "strength": _clean(strength),
            "route": _clean(p["ROUTENAME"]),
            "nonproprietary_name": _clean(p["NONPROPRIETARYNAME"]),
            "dosage_form": _clean(p["DOSAGEFORMNAME"]),
            "labeler_name": _clean(p["LABELERNAME"]),
            "product_ndc": _clean(p["PRODUCTNDC"]),
            "package_ndc": _clean(k["NDCPACKAGECODE"]),
            "package_description": _clean(k["PACKAGEDESCRIPTION"]),
            "product_type": _clean(p["PRODUCTTYPENAME"]),
            "marketing_category": _clean(p["MARKETINGCATEGORYNAME"]),
            "application_number": _clean(p["APPLICATIONNUMBER"]),
            "dea_schedule": _clean(p["DEASCHEDULE"]),
            "marketing_start_date": _date(p["STARTMARKETINGDATE"]),
            "marketing_end_date": _date(p["ENDMARKETINGDATE"]),
        }
    return out


# ---- a minimal SCD2 (DESIGN.md §3 rule 2) over in-memory rows ----
def _fp(ndc: str, b: dict[str, Any]) -> str:
    vals = [ndc] + [b.get(f) for f in DRUG.field_names[1:]]
    text = "|".join("" if v is None else (v.isoformat() if isinstance(v, date) else str(v)) for v in vals)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class Conformed:
    def __init__(self) -> None:
        self.current: dict[str, dict[str, Any]] = {}
        self.rows: list[dict[str, Any]] = []

    def apply(self, snap: dict[str, dict[str, Any]], e: date) -> tuple[str, list[dict[str, Any]]]:
        batch = f"{e:%Y%m%d}T060000.000000Z"
        touched: list[dict[str, Any]] = []
        for ndc, row in list(self.current.items()):
            if ndc not in snap or _fp(ndc, snap[ndc]) != row["fingerprint"]:
                row.update(active_to=e, is_current=False, ingestion_batch_id=batch)
                touched.append(row)
                del self.current[ndc]
        for ndc, b in snap.items():
            if ndc not in self.current:
                row = {"ndc": ndc, **b, "active_from": e, "active_to": OPEN_END, "is_current": True,
                       "ingestion_batch_id": batch, "fingerprint": _fp(ndc, b)}
                self.current[ndc] = row
                self.rows.append(row)
                touched.append(row)
        return batch, [dict(r) for r in touched]


def derive(snap: dict[str, dict[str, Any]], rng: random.Random, share: float = 0.01) -> dict:
    """A next-day delivery: ~half of ``share`` changed, a quarter gone, a quarter new."""
    keys = sorted(snap)
    n = max(4, int(len(keys) * share))
    picked = rng.sample(keys, n * 3 // 4)
    nxt = {k: dict(v) for k, v in snap.items()}
    for k in picked[: n // 2]:
        nxt[k]["proprietary_name"] = f"{nxt[k]['proprietary_name'] or ''} Extra Strength".strip()
    for k in picked[n // 2 :]:
        del nxt[k]
    for _ in range(n // 4):
        src = snap[rng.choice(keys)]
        nxt[f"99{rng.randrange(10**9):09d}"] = dict(src)  # 11 digits, labeler 99xxx is unused
    return nxt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh(rt: Runtime) -> Runtime:
    r = Runtime(rt.settings.with_(dynamodb_table=f"bench-{uuid.uuid4().hex[:8]}"), _dynamodb=rt.dynamodb)
    ensure_table(r.dynamodb, r.settings.dynamodb_table)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drugs", type=int, default=20000, help="subset size (0 = every drug)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    folder = FULL if any(FULL.glob("package*.txt")) else SAMPLE
    t = time.perf_counter()
    snap = load_snapshot(folder)
    total = len(snap)
    if args.drugs:
        snap = {k: snap[k] for k in sorted(snap)[: args.drugs]}
    print(f"data: {folder} -> {total} drugs; measuring {len(snap)}"
          f"{' (fixed subset: first NDCs in order)' if len(snap) < total else ''}; "
          f"parse {time.perf_counter() - t:.1f}s; workers={args.workers}", flush=True)

    conformed = Conformed()
    day = date(2019, 4, 29)
    conformed.apply(snap, day)
    all_rows = [dict(r) for r in conformed.rows]
    items = list(project(DRUG, all_rows).values())
    print(f"items: {len(items)} ({len(items) / len(snap):.1f} per drug)", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-sync-") as home:
        settings = load_settings(backend="local", home=home, dynamodb_port=str(free_port()))
        try:
            rt = Runtime(settings)
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
                stats = rebuild_rows(r, DRUG, all_rows, workers=args.workers)
                rates.append(stats.items / (time.perf_counter() - t))
                if i < args.runs - 1:
                    delete_table(r.dynamodb, r.settings.dynamodb_table)
            rebuild_rate = statistics.median(rates)
            print(f"(b) rebuild: {rebuild_rate:,.0f} items/s (median of {args.runs}: "
                  f"{', '.join(f'{x:,.0f}' for x in rates)}) = {rebuild_rate / ceiling:.0%} "
                  f"of the ceiling (target >= 80%)", flush=True)

            # (c) ~1 % incremental batches on the rebuilt table
            rng = random.Random(20190429)
            times, writes = [], []
            current = snap
            for i in range(args.runs):
                current = derive(current, rng)
                batch, rows = conformed.apply(current, day + timedelta(days=i + 1))
                t = time.perf_counter()
                s = sync_rows(r, DRUG, batch, rows, workers=args.workers)
                times.append(time.perf_counter() - t)
                writes.append(s.writes)
                print(f"    batch {batch}: {s.inserted} inserted, {s.updated} updated, "
                      f"{s.deleted} deleted -> {s.writes} writes in {times[-1]:.2f}s", flush=True)
            print(f"(c) ~1% batch: median {statistics.median(writes):.0f} writes, median sync "
                  f"{statistics.median(times):.2f}s over {args.runs} batches", flush=True)
        finally:
            dynalite.stop(settings)


if __name__ == "__main__":
    sys.exit(main())
