"""Benchmark: the whole daily process, ``ppstack run DRUG FDA_NDC --date D2 --until inserted``.

Setup (not timed): the full real 2019-04-29 files (../shared/data/fda_ndc) are day 1; the
scenario generator (``next_day_batch``) derives day 2 with 1 % changed, 0.5 % new and 0.5 %
disappeared keys (903 new, 1,806 changed, 903 gone over 180,607 keys). Both days are archived
(raw files + renditions) and day 1 is applied (stage -> close -> insert). The home is copied once
per run, and each run is a fresh ``ppstack`` process applying day 2 from its archived renditions
up to ``inserted``: imports, catalog, staging CTAS with rejects and counts, MERGE, INSERT and the
ledger, everything a user waits for before the DynamoDB sync.

Prints one line: median wall time over the runs and the largest peak RSS of the measured
processes. Target on the 2-core machine: <= 1.5 s and <= 600 MB (stretch 1.0 s).

``--split`` adds a second line: where the time goes, from as many more runs, each in a fresh
process with its DuckDB connection timed (every call, fetching included), and as many fresh
processes that only import the libraries a local batch cannot do without (DuckDB, pyiceberg and
pyarrow, its file IO and writer). Their sum is the floor of this SQL on these libraries: what a
run would take if everything else (the CLI, ledger, translation, catalog and commits) were free.

    .venv/bin/python bench/bench_daily.py [--runs 3] [--split] [--keep DIR]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from prepared import Timed, next_day_home_in_child, on_copies, run_in_child

PPSTACK = Path(sys.executable).parent / "ppstack"


def prepare(work: Path) -> tuple[Path, str]:
    """A home with day 1 applied (up to ``inserted``) and day 2 archived; returns (home, day 2)."""
    return next_day_home_in_child(work)


def run_once(home: Path, day2: str) -> tuple[float, float, float, str]:
    """One fresh ``ppstack run`` process: (wall seconds, CPU seconds, peak RSS MB, its batch
    report). CPU time (user + system, all threads) is shown beside wall time because on a
    shared, loaded machine the wall time mostly measures the other tenants."""
    env = {**os.environ, "PPSTACK_HOME": str(home)}
    cmd = [str(PPSTACK), "-q", "run", "DRUG", "FDA_NDC", "--date", day2, "--until", "inserted"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"ppstack run failed ({proc.returncode}):\n{out}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


# What any local batch must import: DuckDB runs the SQL; pyiceberg reads and commits the Iceberg
# table, with pyarrow as its file IO and data-file writer.
LIBRARIES = ("duckdb", "pyiceberg.catalog", "pyiceberg.table", "pyiceberg.io.pyarrow")


def engine_share(home: str, day2: str) -> list[float]:
    """Child of ``--split``: the run, in this fresh process, with the local engine's DuckDB
    connection timed; returns [seconds from before the first ppstack import, seconds in DuckDB]."""
    os.environ["PPSTACK_HOME"] = home
    started = time.perf_counter()
    import duckdb

    from ppstack.engine import local

    # execute() returns the connection, sql() a lazy relation: their fetches are DuckDB's work
    lazy = (duckdb.DuckDBPyConnection, duckdb.DuckDBPyRelation)
    timed: list[Timed] = []
    init = local.LocalEngine.__init__

    def timed_init(engine: Any, settings: Any) -> None:
        init(engine, settings)
        engine.con = Timed(engine.con, lambda out: isinstance(out, lazy))
        timed.append(engine.con)

    local.LocalEngine.__init__ = timed_init  # type: ignore[method-assign]
    from ppstack.cli.main import main as ppstack_main

    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet  # the batch report; run_in_child reads stdout
        try:
            ppstack_main(["-q", "run", "DRUG", "FDA_NDC", "--date", day2, "--until", "inserted"])
        except SystemExit as e:  # the CLI always exits; only a failure stops the bench
            if e.code:
                raise
        finally:
            sys.stdout = stdout
    return [time.perf_counter() - started, sum(t.spent for t in timed)]


def library_imports() -> float:
    """Child of ``--split``: seconds to import ``LIBRARIES`` in this fresh process."""
    started = time.perf_counter()
    for name in LIBRARIES:
        importlib.import_module(name)
    return time.perf_counter() - started


def split(home: Path, work: Path, day2: str, runs: int) -> str:
    """The ``--split`` line (module doc)."""
    shares = list(on_copies(home, work, runs,
                            lambda copy: run_in_child(engine_share, str(copy), day2)))
    wall, duck = statistics.median(s[0] for s in shares), statistics.median(s[1] for s in shares)
    imports = statistics.median(run_in_child(library_imports) for _ in range(runs))
    return (f"daily batch split ({runs} more runs): median {duck:.2f} s inside DuckDB of "
            f"{wall:.2f} s in-process; importing {', '.join(LIBRARIES)} median {imports:.2f} s; "
            f"floor of this SQL on these libraries {duck + imports:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="prepare the day-1 home in DIR once and reuse it on later runs")
    parser.add_argument("--split", action="store_true",
                        help="also measure the time inside DuckDB and the libraries' imports")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ppstack-bench-daily-",
                                     ignore_cleanup_errors=True) as scratch:
        work = Path(scratch)
        if args.keep is not None and (args.keep / "day2").is_file():
            home, day2 = args.keep / "home", (args.keep / "day2").read_text().strip()
        elif args.keep is not None:
            home, day2 = prepare(args.keep)
            (args.keep / "day2").write_text(day2)
        else:
            home, day2 = prepare(work)
        runs = list(on_copies(home, work, args.runs, lambda copy: run_once(copy, day2)))
        for n, (wall, cpu, peak, _report) in enumerate(runs, start=1):
            print(f"run {n}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {peak:.0f} MB",
                  file=sys.stderr)
        walls, cpus, peaks = ([r[i] for r in runs] for i in range(3))
        report = runs[-1][3]
        print(report, file=sys.stderr)
        counts = {k: v for k, v in (line.split()[:2] for line in report.splitlines()
                                    if line.split()[:1] and line.split()[0] in
                                    ("staged", "inserted", "updated", "deleted"))}
        print(f"daily batch (ppstack run --until inserted, next-day batch of the full FDA file, "
              f"fresh process): median {statistics.median(walls):.2f} s wall "
              f"({statistics.median(cpus):.2f} s CPU) over {len(walls)} runs, peak RSS "
              f"{max(peaks):.0f} MB; load average {os.getloadavg()[0]:.1f}; {counts}")
        if args.split:
            print(split(home, work, day2, args.runs))


if __name__ == "__main__":
    main()
