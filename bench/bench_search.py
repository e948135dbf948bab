"""Benchmark search on realistic queries through ``ppstack serve``, all 180,607 drugs loaded.

    .venv/bin/python bench/bench_search.py [--repeat 7] [--home DIR] [--rebuild]

Data: the full FDA files in ../shared (2019-04-29) loaded by the real pipeline once per home
(archive, stage, SCD2, DynamoDB sync: many minutes on dynalite) and reused. ``--rebuild`` drops
the DynamoDB table and runs ``ppstack sync DRUG --rebuild`` (after a tokenizer change).

Runs a fixed list of queries a pharmacist types (single words, ingredient + salt, name +
strength, name + form, prefixes of 2-4 letters, field-scoped) through a ``ppstack serve``
process with one client (HTTP keep-alive), then 200 field-scoped two-word queries
(``name:<word> labeler:<word>`` of random drugs, once each). Prints on one line (the last on
stdout): p50 / p95 over every request of the fixed list, its worst query (median of its
repeats), the index's size (search items and writes per drug of a full load) and the
field-scoped p50 / p95. Each fixed query's median, total and first result go to stderr.
No assertions.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bench_api import load_full, pct
from prepared import PPSTACK, full_files, serving

from ppstack.backends import Runtime
from ppstack.entities import DRUG
from ppstack.serving import dynalite
from ppstack.serving.keys import RANK_PREFIX, tokenize
from ppstack.serving.projection import search_items
from ppstack.settings import load_settings

QUERIES = (
    # single words
    "tylenol", "lisinopril", "amoxicillin", "metformin", "atorvastatin", "ibuprofen",
    "acetaminophen", "sodium", "insulin", "omeprazole", "gabapentin", "tablet",
    # ingredient + salt
    "metformin hydrochloride", "sodium chloride", "lidocaine hydrochloride",
    "potassium chloride", "sertraline hydrochloride", "amlodipine besylate",
    "levothyroxine sodium",
    # name + strength
    "lisinopril 10 mg", "atorvastatin 20 mg", "metformin 500", "amoxicillin 500 mg",
    "insulin glargine 100", "gabapentin 300 mg", "levothyroxine 0.125",
    # name + form / route
    "amoxicillin capsule", "lidocaine injection", "ibuprofen tablet", "hydrocortisone cream",
    "ondansetron oral",
    # prefixes of 2-4 letters, as typed
    "ac*", "am*", "lis*", "met*", "amox*", "ator*", "gaba*", "insulin gla*",
    # field-scoped
    "labeler:lilly atomox*", "name:tylenol", "ingredient:acetaminophen form:tablet",
)


def current_rows(settings: Any) -> list[dict[str, Any]]:
    rt = Runtime(settings)
    try:
        return rt.engine.execute("SELECT * FROM conformed.drug WHERE is_current").dicts()
    finally:
        rt.close()


def scoped_queries(rows: list[dict[str, Any]], n: int) -> list[str]:
    """Field-scoped two-word queries as a user narrows a name to a maker: ``name:<first word
    of a drug's name> labeler:<first word of its labeler>``, for ``n`` drugs picked at random
    (seeded, so every run asks the same)."""
    rnd = random.Random(7)
    out = []
    for r in rnd.sample(rows, n):
        name, labeler = tokenize(r.get("proprietary_name")), tokenize(r.get("labeler_name"))
        if name and labeler:
            out.append(f"name:{name[0]} labeler:{labeler[0]}")
    return out


def index_size(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Search items of the full load, counted from the projection of every current row."""
    tokens = ranks = 0
    for row in rows:
        for sk in search_items(DRUG, row):
            if sk.startswith(RANK_PREFIX):
                ranks += 1
            else:
                tokens += 1
    n = len(rows)
    return {"drugs": n, "token_items": tokens, "rank_items": ranks,
            "items": n + tokens + ranks, "writes_per_drug": (n + tokens + ranks) / n}


def rebuild(settings: Any, env: dict[str, str]) -> None:
    rt = Runtime(settings)
    try:
        rt.dynamodb.delete_table(TableName=settings.dynamodb_table)
        rt.dynamodb.get_waiter("table_not_exists").wait(TableName=settings.dynamodb_table)
    except rt.dynamodb.exceptions.ResourceNotFoundException:
        pass
    finally:
        rt.close()
    t0 = time.perf_counter()
    subprocess.run([str(PPSTACK), "-q", "sync", "DRUG", "--rebuild"],
                   env=env, check=True)
    print(f"sync --rebuild of the full file: {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="requests per query (after 1 warm-up)")
    ap.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "ppstack-bench-search"))
    ap.add_argument("--port", default="18991", help="dynalite port for the bench home")
    ap.add_argument("--rebuild", action="store_true", help="drop the table, sync --rebuild")
    args = ap.parse_args()
    full_files()  # exits with a clear message when ../shared is absent
    env = {**os.environ, "PPSTACK_HOME": args.home, "PPSTACK_DYNAMODB_PORT": args.port,
           "PPSTACK_DYNAMODB_TABLE": "bench-search", "PPSTACK_BACKEND": "local"}
    settings = load_settings(backend="local", home=args.home, dynamodb_port=args.port,
                             dynamodb_table="bench-search")
    load_full(settings)
    if args.rebuild:
        rebuild(settings, env)
    rows = current_rows(settings)
    size = index_size(rows)
    scoped = scoped_queries(rows, 200)

    print("targets: p50 <= 30 ms, p95 <= 150 ms, no query over 300 ms "
          "(dynalite stands in for DynamoDB; the machine is shared)", file=sys.stderr)
    try:
        with serving(env) as base:
            every, per_query = run_queries(urlsplit(base), args.repeat)
            scoped_ms = run_scoped(urlsplit(base), scoped)
    finally:
        dynalite.stop(settings)
    worst = max(per_query, key=lambda k: per_query[k])
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"search, {len(QUERIES)} queries x {args.repeat}: "
          f"p50 {statistics.median(every):.1f} ms, p95 {pct(every, 95):.1f} ms, "
          f"worst {worst!r} {per_query[worst]:.1f} ms (median); "
          f"index {size['items']:,} items ({size['token_items']:,} token, "
          f"{size['rank_items']:,} rank, {size['drugs']:,} current), "
          f"{size['writes_per_drug']:.1f} writes per drug on a full load; "
          f"field-scoped two-word ({len(scoped)} drugs): p50 {statistics.median(scoped_ms):.1f} ms,"
          f" p95 {pct(scoped_ms, 95):.1f} ms; "
          f"peak RSS of children {rss:.0f} MB; load avg {os.getloadavg()[0]:.1f}")


def run_scoped(url: Any, queries: list[str]) -> list[float]:
    """Each query once (after one warm-up query), one keep-alive client; latencies in ms."""
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    out = []
    for i, q in enumerate([queries[0], *queries]):
        t0 = time.perf_counter()
        conn.request("GET", f"/search/drug?q={quote(q)}")
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            sys.exit(f"{q!r}: HTTP {resp.status}")
        if i:
            out.append((time.perf_counter() - t0) * 1000)
    return out


def run_queries(url: Any, repeat: int) -> tuple[list[float], dict[str, float]]:
    """Every query ``repeat`` times after a warm-up, one keep-alive client; (every latency in
    ms, median per query). Each query's median, total and first result go to stderr."""
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    every: list[float] = []
    per_query: dict[str, float] = {}
    for q in QUERIES:
        path = f"/search/drug?q={quote(q)}"
        lat = []
        for i in range(repeat + 1):
            t0 = time.perf_counter()
            conn.request("GET", path)
            resp = conn.getresponse()
            data = json.loads(resp.read())
            ms = (time.perf_counter() - t0) * 1000
            if resp.status != 200:
                sys.exit(f"{q!r}: HTTP {resp.status} {data}")
            if i:
                lat.append(ms)
        every += lat
        total = f"{data['total']}{'+' if data.get('total_relation') == 'gte' else ''}"
        first = (data["results"] or [{}])[0].get("proprietary_name") or "-"
        per_query[q] = statistics.median(lat)
        print(f"  {q:40} {per_query[q]:7.1f} ms  total {total:>7}  first: {first}",
              file=sys.stderr)
    return every, per_query


if __name__ == "__main__":
    main()
