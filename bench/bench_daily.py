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

    .venv/bin/python bench/bench_daily.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "fda_ndc"
DAY1 = "2019-04-29"
PPSTACK = Path(sys.executable).parent / "ppstack"


def prepare(work: Path) -> tuple[Path, str]:
    """A home with day 1 applied (up to ``inserted``) and day 2 archived; returns (home, day 2)."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG, get_source
    from ppstack.pipeline.run import run_batch
    from ppstack.pipeline.steps import CLOSE, INSERT, STAGE
    from ppstack.raw.archive import archive
    from ppstack.scenario import next_day_batch
    from ppstack.settings import load_settings

    scenario = next_day_batch(SHARED / f"product_{DAY1}.txt", SHARED / f"package_{DAY1}.txt",
                              work / "scenario", DAY1, seed=7)
    home = work / "home"
    with Runtime(load_settings(backend="local", home=str(home))) as rt:
        for snap in scenario.snapshots:
            archive(rt, DRUG, get_source(DRUG, "FDA_NDC"), list(scenario.files(snap.date)),
                    snap.date)
        record = run_batch(rt, DRUG, "FDA_NDC", DAY1, steps=(STAGE, CLOSE, INSERT))
        print(f"setup {DAY1}: {record.counts}; day 2 expected {scenario.snapshots[1].counts()}",
              file=sys.stderr)
    return home, scenario.snapshots[1].date


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="prepare the day-1 home in DIR once and reuse it on later runs")
    args = parser.parse_args()
    if not (SHARED / f"product_{DAY1}.txt").is_file():
        sys.exit(f"full FDA files not found under {SHARED}")
    work = Path(tempfile.mkdtemp(prefix="ppstack-bench-daily-"))
    try:
        if args.keep is not None and (args.keep / "day2").is_file():
            home, day2 = args.keep / "home", (args.keep / "day2").read_text().strip()
        elif args.keep is not None:
            home, day2 = prepare(args.keep)
            (args.keep / "day2").write_text(day2)
        else:
            home, day2 = prepare(work)
        walls, cpus, peaks = [], [], []
        report = ""
        for n in range(args.runs):
            copy = work / f"run{n}"
            shutil.copytree(home, copy)
            wall, cpu, peak, report = run_once(copy, day2)
            walls.append(wall)
            cpus.append(cpu)
            peaks.append(peak)
            print(f"run {n + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {peak:.0f} MB",
                  file=sys.stderr)
            shutil.rmtree(copy, ignore_errors=True)
        print(report, file=sys.stderr)
        counts = {k: v for k, v in (line.split()[:2] for line in report.splitlines()
                                    if line.split()[:1] and line.split()[0] in
                                    ("staged", "inserted", "updated", "deleted"))}
        print(f"daily batch (ppstack run --until inserted, next-day batch of the full FDA file, "
              f"fresh process): median {statistics.median(walls):.2f} s wall ({statistics.median(cpus):.2f} s "
              f"CPU) over {len(walls)} runs, peak RSS {max(peaks):.0f} MB; load average "
              f"{os.getloadavg()[0]:.1f}; {counts}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
