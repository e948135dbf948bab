"""Run the benchmarks, each in its own process, and print one line per bench (``make bench``).

Every ``bench/bench_*.py`` prints its figures on the last line of its standard output; this
prints that line after the bench's name, with the machine's load average when it ended (the
figures mean little on a loaded machine). The long benches (the 60-day growth run, the full
load, the full replay, and search and API, which load every drug into dynalite first: minutes
to an hour each) run only with ``--long``; names pick benches.

    .venv/bin/python bench/run_all.py [--long] [bench_daily bench_serve_load ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# Minutes to an hour each: 60 batches, or every drug loaded into dynalite first (once per home).
LONG = frozenset({"bench_growth", "bench_full_load", "bench_replay", "bench_search", "bench_api"})


def benches() -> list[str]:
    """Every bench script's name, sorted."""
    return sorted(p.stem for p in BENCH.glob("bench_*.py"))


def run(name: str) -> tuple[int, str]:
    """Run one bench; (exit code, its last stdout line or the reason it failed)."""
    proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py")], capture_output=True,
                          text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        return proc.returncode, f"FAILED ({proc.returncode}): {(errors or ['no output'])[-1]}"
    return 0, lines[-1] if lines else "(no output)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benches to run (default: all but the long)")
    parser.add_argument("--long", action="store_true", help="also run " + ", ".join(sorted(LONG)))
    args = parser.parse_args()
    known = benches()
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        sys.exit(f"no bench {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = args.names or [b for b in known if args.long or b not in LONG]
    failed = 0
    for name in chosen:
        code, line = run(name)
        failed += code != 0
        print(f"{name}: {line} [load average {os.getloadavg()[0]:.1f}]", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
