"""Benchmark: ``ppstack serve`` under 32 concurrent clients for 15 s on the demo data.

Setup (not timed): ``ppstack demo --no-serve`` into a fresh home (three batches of the bundled
extract through every layer), then ``ppstack serve --port 0`` as its own process. Load: 32
client threads (4 processes x 8, so the clients' own GIL does not cap the server), half of them
keep-alive (one connection each, reused) and half opening a new connection per request
(``Connection: close``), each sending GET /drug/{ndc}, /drug/{ndc}/history and two-token searches
in turn for the duration. Only to 127.0.0.1; bounded in clients and seconds.

Prints one line: requests/s, p50 and p99 latency (ms) and the error count (any non-2xx/404,
connection failure or timeout). Target: 0 errors and p99 <= 250 ms.

    .venv/bin/python bench/bench_serve_load.py [--clients 32] [--seconds 15]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from prepared import PPSTACK, free_port, serving

PROCESSES = 4


def request_paths(env: dict[str, str]) -> list[str]:
    """Paths over the demo's current drugs: one drug, its history, a two-token search."""
    sql = ("SELECT ndc, proprietary_name, labeler_name FROM conformed.drug WHERE is_current "
           "AND proprietary_name IS NOT NULL ORDER BY ndc LIMIT 200")
    out = subprocess.run([str(PPSTACK), "-q", "query", sql, "--format", "json"], env=env,
                         check=True, capture_output=True, text=True).stdout
    paths = []
    for row in json.loads(out):
        words = f"{row['proprietary_name']} {row['labeler_name'] or ''}".split()
        query = urllib.parse.quote(" ".join(w.lower() for w in words[:2]))
        paths += [f"/drug/{row['ndc']}", f"/drug/{row['ndc']}/history",
                  f"/search/drug?q={query}&limit=10"]
    return paths


def client(host: str, port: int, paths: list[str], keep_alive: bool, until: float,
           offset: int, out: list[tuple[float, bool]]) -> None:
    """Send requests until ``until``; append (seconds, ok) per request to ``out``."""
    conn: http.client.HTTPConnection | None = None
    i = offset
    while time.monotonic() < until:
        path = paths[i % len(paths)]
        i += 1
        started = time.perf_counter()
        ok = False
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request("GET", path, headers={} if keep_alive else {"Connection": "close"})
            response = conn.getresponse()
            response.read()
            ok = response.status in (200, 404)
        except (OSError, http.client.HTTPException):
            ok = False
        if not ok or not keep_alive:
            if conn is not None:
                conn.close()
            conn = None
        out.append((time.perf_counter() - started, ok))
    if conn is not None:
        conn.close()


def client_process(host: str, port: int, paths: list[str], threads: int, first: int,
                   seconds: float, results: mp.Queue) -> None:
    until = time.monotonic() + seconds
    outs: list[list[tuple[float, bool]]] = [[] for _ in range(threads)]
    workers = [threading.Thread(target=client, args=(host, port, paths, (first + n) % 2 == 0,
                                                     until, (first + n) * 7, outs[n]))
               for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results.put([item for o in outs for item in o])


def load(host: str, port: int, paths: list[str], clients: int,
         seconds: float) -> tuple[list[tuple[float, bool]], float]:
    """``clients`` clients over PROCESSES processes for ``seconds``: (latency, ok) samples and
    the elapsed time."""
    per = [clients // PROCESSES + (1 if n < clients % PROCESSES else 0)
           for n in range(PROCESSES)]
    results: mp.Queue = mp.Queue()
    procs = [mp.Process(target=client_process,
                        args=(host, port, paths, k, sum(per[:n]), seconds, results))
             for n, k in enumerate(per) if k]
    started = time.monotonic()
    for p in procs:
        p.start()
    samples = [s for _ in procs for s in results.get()]
    for p in procs:
        p.join()
    return samples, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    if not 1 <= args.clients <= 256 or not 0 < args.seconds <= 120:
        sys.exit("--clients must be 1..256 and --seconds 0..120 (this bench loads 127.0.0.1)")
    home = Path(tempfile.mkdtemp(prefix="ppstack-bench-serve-"))
    env = {**os.environ, "PPSTACK_HOME": str(home), "PPSTACK_DYNAMODB_PORT": str(free_port())}
    try:
        subprocess.run([str(PPSTACK), "-q", "demo", "--no-serve"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        paths = request_paths(env)
        with serving(env) as url:
            base = urllib.parse.urlsplit(url)
            samples, elapsed = load(base.hostname or "127.0.0.1", int(base.port or 80), paths,
                                    args.clients, args.seconds)
        lat = sorted(s * 1000 for s, _ok in samples)
        errors = sum(1 for _s, ok in samples if not ok)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"serve load ({args.clients} clients, half keep-alive, {args.seconds:.0f} s, demo "
              f"data): {len(samples) / elapsed:.0f} req/s, p50 {statistics.median(lat):.1f} ms, "
              f"p99 {p99:.1f} ms, errors {errors} of {len(samples)}")
    finally:
        from ppstack.serving import dynalite
        from ppstack.settings import load_settings

        dynalite.stop(load_settings(backend="local", home=str(home),
                                    dynamodb_port=env["PPSTACK_DYNAMODB_PORT"]))
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
