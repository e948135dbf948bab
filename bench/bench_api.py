"""Benchmark the read API through ``ppstack serve`` (loopback only) and the handlers' own time.

    .venv/bin/python bench/bench_api.py --full [--requests 400] [--home DIR]
    .venv/bin/python bench/bench_api.py [--drugs 10000] [--requests 400] [--home DIR]

Data, with --full: the full FDA files in ../shared (2019-04-29) loaded by the real pipeline
(``ppstack ingest``: archive, stage, SCD2, DynamoDB sync of all ~180k drugs and their tokens;
several minutes on dynalite, done once and reused from --home). Without it: a realistic subset,
every k-th drug, turned into serving items by the sync worker's own projection (via
tests/api/loader.py), which loads in seconds.

Measured per route: requests/s with a small client thread pool, p50/p95 latency end to end with
one client (HTTP keep-alive), and the handler's own time: the handler called in-process with the
time spent inside boto3 client calls subtracted. Medians are printed; no assertions.
"""

from __future__ import annotations

import argparse
import http.client
import random
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.api.loader import load_items, read_drug_rows, scenario_items  # noqa: E402

from ppstack.api import config, handlers, local_server  # noqa: E402
from ppstack.backends import make_dynamodb  # noqa: E402
from ppstack.serving import dynalite  # noqa: E402
from ppstack.serving.keys import tokenize  # noqa: E402
from ppstack.serving.table import ensure_table  # noqa: E402
from ppstack.settings import load_settings  # noqa: E402

FDA = ROOT.parent / "shared" / "data" / "fda_ndc"
META_PK = {"PK": {"S": "BENCH#META"}, "SK": {"S": "subset"}}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def load(client: Any, table: str, drugs: int) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    rows = read_drug_rows(product=FDA / "product_2019-04-29.txt", package=FDA / "package_2019-04-29.txt")
    step = max(1, len(rows) // drugs)
    subset = rows[::step][:drugs]
    print(f"read {len(rows)} drugs from the full FDA files in {time.perf_counter() - t0:.1f} s; "
          f"subset: every {step}th drug = {len(subset)} drugs", file=sys.stderr)
    marker = f"{len(rows)}:{step}:{len(subset)}"
    got = client.get_item(TableName=table, Key=META_PK).get("Item")
    if got and got.get("marker", {}).get("S") == marker:
        print("table already holds this subset; not reloading", file=sys.stderr)
        return subset
    # Keep the scenario's special drugs out: the bench wants plain current items.
    items, _ = scenario_items(subset + _scenario_extras(rows, subset))
    t0 = time.perf_counter()
    chunks = [items[i:i + 2500] for i in range(0, len(items), 2500)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: load_items(client, table, c), chunks))
    dt = time.perf_counter() - t0
    print(f"loaded {len(items)} items in {dt:.1f} s ({len(items) / dt:.0f} items/s)", file=sys.stderr)
    client.put_item(TableName=table, Item={**META_PK, "marker": {"S": marker}})
    return subset


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


def _scenario_extras(rows: list[dict[str, Any]], subset: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The loader's scenario needs its two Strattera packages; add them when the subset lacks them."""
    have = {r["ndc"] for r in subset}
    return [r for r in rows if r["ndc"] in ("00002322730", "00002322830") and r["ndc"] not in have]


def make_paths(subset: list[dict[str, Any]], n: int, rnd: random.Random) -> dict[str, list[str]]:
    def ndc_forms(r: dict[str, Any]) -> str:
        return rnd.choice([r["ndc"], r["package_ndc"] or r["ndc"]])

    picks = [rnd.choice(subset) for _ in range(n)]
    two = []
    for r in picks:
        a = tokenize(r.get("proprietary_name")) or ["tablet"]
        b = tokenize(r.get("labeler_name")) or ["inc"]
        two.append(f"{a[0]} {b[0]}")
    return {
        "GET /drug/{ndc}": [f"/drug/{quote(ndc_forms(r))}" for r in picks],
        "GET /drug/{ndc}/history": [f"/drug/{r['ndc']}/history" for r in picks],
        "GET /search/drug (1 token)": [
            f"/search/drug?q={quote((tokenize(r.get('proprietary_name')) or ['tablet'])[0])}" for r in picks],
        "GET /search/drug (2 tokens)": [f"/search/drug?q={quote(q)}" for q in two],
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


def run_http(base: str, paths: list[str], threads: int, budget_s: float) -> tuple[list[float], float, int]:
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


class TimingClient:
    """Wraps the boto3 client; adds the wall time of every call to ``spent``."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.spent = 0.0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return attr(*a, **kw)
            finally:
                self.spent += time.perf_counter() - t0

        return timed


HANDLERS: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
    "/drug/{ndc}": handlers.get_drug,
    "/drug/{ndc}/history": handlers.get_drug_history,
    "/search/drug": handlers.search_drug,
}


def handler_overhead(paths: list[str], timing: TimingClient) -> list[float]:
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
    ap.add_argument("--full", action="store_true",
                    help="load all ~180k drugs with the real pipeline (minutes, once per --home)")
    ap.add_argument("--drugs", type=int, default=10000, help="drugs to load (of ~180k)")
    ap.add_argument("--requests", type=int, default=400, help="requests per route and mode")
    ap.add_argument("--threads", type=int, default=4, help="client threads for requests/s")
    ap.add_argument("--budget", type=float, default=15.0, help="seconds per route and mode, at most")
    ap.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "ppstack-bench-api"))
    ap.add_argument("--port", default="18990", help="dynalite port for the bench home")
    args = ap.parse_args()
    if not (FDA / "product_2019-04-29.txt").is_file():
        sys.exit(f"full FDA files not found under {FDA}")

    settings = load_settings(backend="local", home=args.home, dynamodb_port=args.port,
                             dynamodb_table="bench-api")
    client = make_dynamodb(settings)
    ensure_table(client, settings.dynamodb_table)
    subset = load_full(settings) if args.full else load(client, settings.dynamodb_table, args.drugs)
    paths = make_paths(subset, args.requests, random.Random(7))

    base, shutdown = local_server.serve_in_thread(settings, port=0, log_stream=open("/dev/null", "w"))  # noqa: SIM115
    try:
        what = "the full FDA 2019-04-29 data" if args.full else "subset of the full FDA 2019-04-29 data"
        print(f"\nppstack serve at {base}; {len(subset)} drugs loaded ({what}); {args.requests} "
              f"requests per route, {args.threads} client threads for throughput, 1 for latency\n")
        print(f"{'route':30} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'handler p50 ms':>15} {'5xx':>4}")
        for route, ps in paths.items():
            run_http(base, ps[:20], 1, 5)  # warm-up
            lat, _, err1 = run_http(base, ps, 1, args.budget)
            lat_n, elapsed_n, err_n = run_http(base, ps, args.threads, args.budget)
            timing = TimingClient(config.get_client())
            cfg = config.get_config()
            config.configure(table=cfg.table, client=timing)
            try:
                own = handler_overhead(ps[:200], timing)
            finally:
                config.configure(table=cfg.table, client=timing._client)
            print(f"{route:30} {len(lat_n) / elapsed_n:7.0f} {statistics.median(lat):7.2f} "
                  f"{pct(lat, 95):7.2f} {statistics.median(own):15.3f} {err1 + err_n:4d}")
        print("\ntargets: handler overhead <= 1 ms p50; GET /drug p50 <= 10 ms; two-token search p95 <= 100 ms")
        print("note: dynalite (Node.js, LevelDB) stands in for DynamoDB; its Query cost grows with the "
              "token partition, so search figures depend on the subset size.")
    finally:
        shutdown()
        dynalite.stop(settings)  # the data stays under --home for the next run


if __name__ == "__main__":
    main()
