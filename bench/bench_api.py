"""Benchmark the read API through ``ppstack serve`` (loopback only) and the handlers' own time.

    .venv/bin/python bench/bench_api.py [--requests 400] [--home DIR]

Data: the full FDA files in ../shared (2019-04-29) loaded by the real pipeline (archive, stage,
SCD2, DynamoDB sync of all ~180k drugs and their ~1.9M search tokens: several minutes on
dynalite, done once and reused from --home).

Measured per route: requests/s with a small client thread pool, p50/p95 latency end to end with
one client (HTTP keep-alive), and the handler's own time: the handler called in-process with the
time spent inside boto3 client calls subtracted. Medians are printed; no assertions.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from prepared import Timed

from ppstack.api import config, handlers, local_server
from ppstack.serving import dynalite
from ppstack.serving.keys import tokenize
from ppstack.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


FDA = ROOT.parent / "shared" / "data" / "fda_ndc"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def load_full(settings: Any) -> list[dict[str, Any]]:
    """The whole 2019-04-29 directory through the real pipeline, once; then current rows."""
    from ppstack.backends import Runtime
    from ppstack.entities import DRUG, get_source
    from ppstack.pipeline.ledger import Ledger
    from ppstack.pipeline.run import run_batch
    from ppstack.raw.archive import archive

    rt = Runtime(settings)
    try:
        latest = Ledger(rt.store).latest("DRUG")
        if latest is None or latest.state != "synced":
            t0 = time.perf_counter()
            archive(rt, DRUG, get_source(DRUG, "FDA_NDC"),
                    [FDA / "product_2019-04-29.txt", FDA / "package_2019-04-29.txt"], "2019-04-29")
            record = run_batch(rt, DRUG, "FDA_NDC", "2019-04-29",
                               progress=lambda m: print(f"  .. {m}", file=sys.stderr))
            print(f"pipeline loaded {record.counts.get('staged')} drugs, DynamoDB "
                  f"{record.dynamodb} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        else:
            print("home already holds the full load; not reloading", file=sys.stderr)
        return rt.engine.execute(
            "SELECT ndc, package_ndc, proprietary_name, labeler_name FROM conformed.drug "
            "WHERE is_current").dicts()
    finally:
        rt.close()


def make_paths(drugs: list[dict[str, Any]], n: int, rnd: random.Random) -> dict[str, list[str]]:
    def ndc_forms(r: dict[str, Any]) -> str:
        return rnd.choice([r["ndc"], r["package_ndc"] or r["ndc"]])

    picks = [rnd.choice(drugs) for _ in range(n)]
    two, scoped = [], []
    for r in picks:
        a = tokenize(r.get("proprietary_name")) or ["tablet"]
        b = tokenize(r.get("labeler_name")) or ["inc"]
        two.append(f"{a[0]} {b[0]}")
        scoped.append(f"name:{a[0]} labeler:{b[0]}")  # field-scoped, two terms
    return {
        "GET /drug/{ndc}": [f"/drug/{quote(ndc_forms(r))}" for r in picks],
        "GET /drug/{ndc}/history": [f"/drug/{r['ndc']}/history" for r in picks],
        # as-of inside the current version (one GetItem), and before the first version (GetItem
        # + the history Query: the 404 naming the dates listed), the two paths of an as-of read
        "GET /drug/{ndc}?as_of (1 req)": [f"/drug/{r['ndc']}?as_of=2019-05-01" for r in picks],
        "GET /drug/{ndc}?as_of (2 req)": [f"/drug/{r['ndc']}?as_of=2019-01-01" for r in picks],
        "GET /batches/drug?limit=1": ["/batches/drug?limit=1" for _ in picks],
        "GET /search/drug (1 token)": [
            f"/search/drug?q={quote((tokenize(r.get('proprietary_name')) or ['tablet'])[0])}"
            for r in picks],
        "GET /search/drug (2 tokens)": [f"/search/drug?q={quote(q)}" for q in two],
        "GET /search/drug (2 scoped)": [f"/search/drug?q={quote(q)}" for q in scoped],
        "GET /search/drug (prefix)": [
            f"/search/drug?q={quote((tokenize(r.get('proprietary_name')) or ['tab'])[0][:4])}*"
            for r in picks if len((tokenize(r.get('proprietary_name')) or ['tab'])[0]) >= 2],
    }


class Client:
    """One keep-alive HTTP connection per thread."""

    _local = threading.local()

    def __init__(self, base: str) -> None:
        u = urlsplit(base)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80

    def get(self, path: str) -> tuple[int, float]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        t0 = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, (time.perf_counter() - t0) * 1000


def run_http(base: str, paths: list[str], threads: int,
             budget_s: float) -> tuple[list[float], float, int]:
    client = Client(base)
    deadline = time.perf_counter() + budget_s
    lat: list[float] = []
    errors = 0
    lock = threading.Lock()

    def one(path: str) -> None:
        nonlocal errors
        if time.perf_counter() > deadline:
            return
        status, ms = client.get(path)
        with lock:
            lat.append(ms)
            errors += status >= 500

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, paths))
    return lat, time.perf_counter() - t0, errors


HANDLERS: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
    "/drug/{ndc}": handlers.get_drug,
    "/drug/{ndc}/history": handlers.get_drug_history,
    "/search/drug": handlers.search_drug,
}


def handler_overhead(paths: list[str], timing: Timed) -> list[float]:
    """Milliseconds per call spent in the handler itself (total minus boto3 client calls)."""
    out = []
    for raw in paths:
        u = urlsplit(raw)
        resource, handler, params = local_server.match(u.path)  # type: ignore[misc]
        event = local_server.build_event("GET", u.path, u.query, [], resource, params, "127.0.0.1")
        timing.spent = 0.0
        t0 = time.perf_counter()
        handler(event, None)
        total = time.perf_counter() - t0
        out.append((total - timing.spent) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=400, help="requests per route and mode")
    ap.add_argument("--threads", type=int, default=4, help="client threads for requests/s")
    ap.add_argument("--budget", type=float, default=15.0,
                    help="seconds per route and mode, at most")
    ap.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "ppstack-bench-api"))
    ap.add_argument("--port", default="18990", help="dynalite port for the bench home")
    ap.add_argument("--table", default="bench-api", help="DynamoDB table of the bench home")
    args = ap.parse_args()
    if not (FDA / "product_2019-04-29.txt").is_file():
        sys.exit(f"full FDA files not found under {FDA}")

    settings = load_settings(backend="local", home=args.home, dynamodb_port=args.port,
                             dynamodb_table=args.table)
    drugs = load_full(settings)
    paths = make_paths(drugs, args.requests, random.Random(7))

    devnull = open("/dev/null", "w")  # noqa: SIM115
    base, shutdown = local_server.serve_in_thread(settings, port=0, log_stream=devnull)
    try:
        print(f"\nppstack serve at {base}; {len(drugs)} drugs loaded (the full FDA 2019-04-29 "
              f"data); {args.requests} "
              f"requests per route, {args.threads} client threads for throughput, 1 for latency\n")
        print(f"{'route':30} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'handler p50 ms':>15} {'5xx':>4}")
        p50: dict[str, float] = {}
        p95: dict[str, float] = {}
        for route, ps in paths.items():
            run_http(base, ps[:20], 1, 5)  # warm-up
            lat, _, err1 = run_http(base, ps, 1, args.budget)
            lat_n, elapsed_n, err_n = run_http(base, ps, args.threads, args.budget)
            timing = Timed(config.get_client())
            cfg = config.get_config()
            config.configure(table=cfg.table, client=timing)
            try:
                own = handler_overhead(ps[:200], timing)
            finally:
                config.configure(table=cfg.table, client=timing._client)
            p50[route], p95[route] = statistics.median(lat), pct(lat, 95)
            print(f"{route:30} {len(lat_n) / elapsed_n:7.0f} {statistics.median(lat):7.2f} "
                  f"{pct(lat, 95):7.2f} {statistics.median(own):15.3f} {err1 + err_n:4d}")
        print("\ntargets: handler overhead <= 1 ms p50; GET /drug p50 <= 10 ms; as-of p50 <= 5 ms;"
              " field-scoped two-term search p95 <= 100 ms")
        print("note: dynalite (Node.js, LevelDB) stands in for DynamoDB; its Query cost grows "
              "with the token partition (Query pages are slower than DynamoDB's).")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"api: GET /drug p50 {p50['GET /drug/{ndc}']:.2f} ms; as-of p50 "
              f"{p50['GET /drug/{ndc}?as_of (1 req)']:.2f} ms (1 request), "
              f"{p50['GET /drug/{ndc}?as_of (2 req)']:.2f} ms (2 requests); field-scoped "
              f"two-term search p95 {p95['GET /search/drug (2 scoped)']:.1f} ms; two-token "
              f"search p95 {p95['GET /search/drug (2 tokens)']:.1f} ms; peak RSS {rss:.0f} MB; "
              f"load avg {os.getloadavg()[0]:.1f}")
    finally:
        shutdown()
        dynalite.stop(settings)  # the data stays under --home for the next run


if __name__ == "__main__":
    main()
