"""Benchmark: archive + renditions of one delivery, each run in a fresh process and a fresh home.

Why fresh processes: import time, allocator state and page cache warm-up of one run must not
flatter the next; peak RSS is only meaningful per process. Prints the median wall time of the
archive call (imports excluded, reported separately), its CPU time (a figure that other load on
a shared machine disturbs less than wall time) and the largest peak RSS.

Usage:
    python bench/bench_archive.py [--runs 3] [--sample] [FILE ...]

Without FILEs it uses the full 2019-04-29 files in ../shared/data/fda_ndc when present, else
the bundled sample (``--sample`` forces the sample).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT.parent / "shared" / "data" / "fda_ndc"
SAMPLE = ROOT / "src" / "ppstack" / "data" / "sample" / "fda_ndc"

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from ppstack.backends import Runtime
from ppstack.entities import get_entity, get_source
from ppstack.raw.archive import archive
from ppstack.settings import load_settings
import pyarrow, pyarrow.csv, pyarrow.parquet  # noqa: F401  (import cost is reported apart)
t1 = time.perf_counter()
u0 = resource.getrusage(resource.RUSAGE_SELF)
home, files = sys.argv[1], sys.argv[2:]
rt = Runtime(load_settings(backend="local", home=home))
entity = get_entity("DRUG")
result = archive(rt, entity, get_source(entity, "FDA_NDC"), files, "2019-04-29")
t2 = time.perf_counter()
u1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "import_s": t1 - t0, "archive_s": t2 - t1,
    "cpu_s": (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime),
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rows": {m.name: m.rows for m in result.members.values()},
}))
"""


def default_files(sample: bool) -> list[Path]:
    full = [FULL / "product_2019-04-29.txt", FULL / "package_2019-04-29.txt"]
    if not sample and all(p.is_file() for p in full):
        return full
    return [SAMPLE / "product.txt", SAMPLE / "package.txt"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", action="store_true")
    args = parser.parse_args()
    files = args.files or default_files(args.sample)
    size = sum(p.stat().st_size for p in files)
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ppstack-bench-") as home:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, home, *map(str, files)],
                check=True, capture_output=True, text=True,
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    names = ", ".join(p.name for p in files)
    print(f"files: {names} ({size / 1e6:.1f} MB), rows {runs[0]['rows']}")
    each = ", ".join(f"{r['archive_s']:.3f}" for r in runs)
    print(f"archive + renditions: median {statistics.median(r['archive_s'] for r in runs):.3f} s "
          f"over {len(runs)} fresh processes (all: {each})")
    print(f"archive CPU time (user+sys, all threads): median "
          f"{statistics.median(r['cpu_s'] for r in runs):.3f} s (independent of other load)")
    print(f"imports: median {statistics.median(r['import_s'] for r in runs):.3f} s; "
          f"peak RSS: max {max(r['rss_mb'] for r in runs):.0f} MB")


if __name__ == "__main__":
    main()
