"""What the full-file benches share: the FDA files beside the repository, a home with day 1
applied and the scenario's next day archived, copied once per measured run, and a measured run
in a fresh child process.

Imported by the bench scripts (``python bench/<script>.py`` puts ``bench/`` on the path).
"""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "fda_ndc"
DAY1 = "2019-04-29"
PPSTACK = Path(sys.executable).parent / "ppstack"


def full_files(day: str = DAY1) -> tuple[Path, Path]:
    """(product, package) of the full FDA delivery of ``day``; exits when they are absent."""
    product, package = SHARED / f"product_{day}.txt", SHARED / f"package_{day}.txt"
    if not product.is_file() or not package.is_file():
        sys.exit(f"full FDA files not found under {SHARED}")
    return product, package


def next_day_home(work: Path, *, stage_day2: bool = False) -> tuple[Path, Any]:
    """A home under ``work`` with day 1 applied (stage -> close -> insert, no DynamoDB) and the
    next day of ``scenario.next_day_batch`` archived (and staged when ``stage_day2``); returns
    (home, scenario)."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG, get_source
    from ppstack.pipeline.run import run_batch
    from ppstack.pipeline.steps import CLOSE, INSERT, STAGE
    from ppstack.raw.archive import archive
    from ppstack.scenario import next_day_batch
    from ppstack.settings import load_settings

    scenario = next_day_batch(*full_files(), work / "scenario", DAY1, seed=7)
    home = work / "home"
    day1, day2 = scenario.snapshots
    with Runtime(load_settings(backend="local", home=str(home))) as rt:
        for snap in scenario.snapshots:
            t = time.perf_counter()
            archive(rt, DRUG, get_source(DRUG, "FDA_NDC"), list(scenario.files(snap.date)),
                    snap.date)
            if snap is day1 or stage_day2:
                record = run_batch(rt, DRUG, "FDA_NDC", snap.date, steps=(STAGE, CLOSE, INSERT),
                                   until=None if snap is day1 else "staged")
                print(f"setup {snap.date}: {record.counts} in {time.perf_counter() - t:.1f} s",
                      file=sys.stderr)
    print(f"day 2 expected {day2.counts()}", file=sys.stderr)
    return home, scenario


def next_day_home_in_child(work: Path, *, stage_day2: bool = False) -> tuple[Path, str]:
    """``next_day_home`` in a fresh process; returns (home, day 2). Benches measure runs
    forked from their own process, and Linux keeps a process's peak RSS across exec, so a bench
    grown to ~900 MB by preparing in-process would report that as every measured run's peak."""
    home, day2 = run_in_child(_next_day_home, str(work), "stage" if stage_day2 else "")
    return Path(home), day2


def _next_day_home(work: str, stage_day2: str) -> list[str]:
    """The child of ``next_day_home_in_child``: the home and day 2, as JSON."""
    home, scenario = next_day_home(Path(work), stage_day2=bool(stage_day2))
    return [str(home), scenario.snapshots[1].date]


def on_copies(home: Path, work: Path, runs: int,
              measure: Callable[[Path], Any]) -> Iterator[Any]:
    """``measure`` each of ``runs`` fresh copies of ``home`` (removed after), yielding results."""
    for n in range(runs):
        copy = work / f"run{n}"
        shutil.copytree(home, copy)
        try:
            yield measure(copy)
        finally:
            shutil.rmtree(copy, ignore_errors=True)


def run_in_child(run: Callable[..., Any], *args: str, env: dict[str, str] | None = None) -> Any:
    """``run(*args)`` in a fresh Python process, so its imports, caches and peak RSS are the
    measured run's alone; ``run`` is a top-level function of a bench script and returns a
    JSON-able value, which this returns. The child's stderr is this process's."""
    script = sys.modules[run.__module__].__file__
    assert script is not None
    out = subprocess.run([sys.executable, __file__, script, run.__name__, *args], env=env,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _child(script: str, name: str, *args: str) -> None:
    """The child of ``run_in_child``: load ``script`` (not as ``__main__``, so its ``main``
    does not run), call its function ``name`` and print the result as the last stdout line."""
    result = runpy.run_path(script, run_name="bench_child")[name](*args)
    print(json.dumps(result))


class Timed:
    """Wraps an object and adds the wall time of each of its method calls to ``spent`` (seconds).
    What a call returns is wrapped into the same account when ``deep(result)`` holds: a DuckDB
    result or relation, say, whose fetch is where the time goes."""

    def __init__(self, target: Any, deep: Callable[[Any], bool] = lambda _result: False,
                 account: Timed | None = None) -> None:
        self._target, self._deep = target, deep
        self._account = account or self
        self.spent = 0.0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                out = attr(*args, **kwargs)
            finally:
                self._account.spent += time.perf_counter() - started
            return Timed(out, self._deep, self._account) if self._deep(out) else out

        return timed


def free_port() -> int:
    """A TCP port nothing listens on now (for a private dynalite or API server)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """``ppstack serve`` on a free port in the home of ``env``; yields its base URL and stops
    the server when the block ends."""
    server = subprocess.Popen([str(PPSTACK), "-q", "serve", "--port", "0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    _child(*sys.argv[1:])
