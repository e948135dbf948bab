"""``ppstack demo``: the whole flow on the bundled real extract, then the API.

1. Derive three dated deliveries from the bundled FDA extract (``ppstack.scenario``: new,
   changed, disappeared, reactivated and duplicated drugs, each recorded).
2. For each date: archive the files (layer 1), then run stage -> close -> insert -> sync
   (layers 2-4), and print the batch report.
3. Start the API (layer 5) on 127.0.0.1, call it for a drug, its history and a search, and
   print the responses.
4. Keep serving until Ctrl-C (or stop, with ``--no-serve``).

It starts from an empty ``PPSTACK_HOME``: a home a previous demo left (marked by
``.ppstack-demo``) is reset; any other non-empty home is refused rather than touched.
"""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppstack.backends import Runtime
from ppstack.entities import DRUG, get_source
from ppstack.errors import Refused
from ppstack.progress import MeterFactory, no_meter
from ppstack.settings import Settings

SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "sample" / "fda_ndc"
DEMO_DATES = ("2019-04-29", "2019-04-30", "2019-05-01")
MARKER = ".ppstack-demo"
STRATTERA = "00002322730"  # package 0002-3227-30, Eli Lilly: in the bundled extract

# Larger shares than a real day, so three small batches show every kind of change; the
# disappeared share stays under the 5 % mass-delete guard.
SCENARIO_SHARES = {
    "new_share": 0.02,
    "change_share": 0.03,
    "disappear_share": 0.02,
    "reactivate_share": 0.01,
    "duplicate_share": 0.005,
}

Echo = Callable[[str], None]


@dataclass
class DemoResult:
    """What the demo did, for tests and for the closing summary."""

    batches: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, int, Any]] = field(default_factory=list)
    base_url: str = ""


def prepare_home(settings: Settings) -> None:
    """Empty the demo home, or refuse a home that holds something else.

    With the default local DynamoDB its data lives in the home and goes with it. When an
    explicit endpoint is set, the serving table is dropped only if the marker says an earlier
    demo created that very table on that very endpoint.
    """
    home = settings.home_path
    if home.exists() and any(home.iterdir()):
        marker = home / MARKER
        if not marker.exists():
            raise Refused(
                f"{home} is not empty and was not made by `ppstack demo`; the demo starts from an "
                "empty PPSTACK_HOME. Choose another one: ppstack --home /tmp/ppstack-demo demo"
            )
        from ppstack.serving import dynalite

        made = json.loads(marker.read_text() or "{}")
        if settings.dynamodb_endpoint and made.get("dynamodb") == _table_id(settings):
            from ppstack.backends import make_dynamodb
            from ppstack.serving.table import delete_table

            delete_table(make_dynamodb(settings), settings.dynamodb_table)
        dynalite.stop(settings)
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text(json.dumps({"made_by": "ppstack demo; the next demo run empties "
                                           "this directory", "dynamodb": _table_id(settings)}))


def _table_id(settings: Settings) -> str:
    return f"{settings.dynamodb_endpoint or 'local'}/{settings.dynamodb_table}"


def ingest_dates(rt: Runtime, scenario_dir: Path, echo: Echo, progress: Echo,
                 meter: MeterFactory = no_meter, seed: int = 7
                 ) -> tuple[Any, list[dict[str, Any]]]:
    """Derive the three deliveries and push each through every layer; returns the reports."""
    from ppstack.pipeline.run import report, run_batch
    from ppstack.raw.archive import archive
    from ppstack.scenario import derive_scenario

    scenario = derive_scenario(SAMPLE_DIR / "product.txt", SAMPLE_DIR / "package.txt",
                               scenario_dir, dates=list(DEMO_DATES), seed=seed, **SCENARIO_SHARES)
    source = get_source(DRUG, "FDA_NDC")
    reports = []
    for snap in scenario.snapshots:
        product, package = scenario.files(snap.date)
        echo(f"\n=== {DRUG.name} FDA_NDC {snap.date}: derived "
             + ", ".join(f"{k} {v}" for k, v in snap.counts().items()
                         if k in ("new", "changed", "disappeared", "reactivated", "duplicates")))
        archived = archive(rt, DRUG, source, [product, package], snap.date, progress=progress)
        rows = {m: a.rows for m, a in archived.members.items()}
        echo(f"archived   {', '.join(f.key for f in archived.files)} ({rows})")
        record = run_batch(rt, DRUG, "FDA_NDC", snap.date, progress=progress, meter=meter)
        echo(report(record))
        reports.append({"date": snap.date, "batch_id": record.batch_id, "state": record.state,
                        "counts": dict(record.counts), "dynamodb": record.dynamodb,
                        "timings": dict(record.timings)})
    return scenario, reports


def example_requests(scenario: Any) -> list[str]:
    """Paths that show each layer's effect: a drug, a changed drug's history, searches."""
    paths = [f"/drug/{STRATTERA}", "/drug/0002-3227-30/history"]
    last = scenario.snapshots[-1]
    changed = sorted({c.ndc11 for s in scenario.snapshots[1:] for c in s.changed})
    if changed:
        paths.append(f"/drug/{changed[0]}/history")
    if last.reactivated:
        paths.append(f"/drug/{sorted(r.ndc11 for r in last.reactivated)[0]}/history")
    if last.disappeared:
        paths.append(f"/drug/{sorted(d.ndc11 for d in last.disappeared)[0]}")
    paths += ["/search/drug?q=strattera", "/search/drug?q=insulin%20lispro&limit=3",
              "/search/drug?q=atorva*&limit=2"]
    return paths


def call(base_url: str, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(base_url + path, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _shorten(body: Any, limit: int = 1400) -> str:
    text = json.dumps(body, indent=2, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "\n  ... (truncated)"


def run_demo(settings: Settings, *, serve: bool, port: int, echo: Echo, progress: Echo,
             meter: MeterFactory = no_meter, stop: threading.Event | None = None) -> DemoResult:
    """The whole demo; with ``serve`` it blocks until Ctrl-C or ``stop`` is set."""
    from ppstack.api.local_server import make_server, serve_in_thread
    from ppstack.services import API, register

    if serve:  # fail before the ingest, not after it, when the API port is taken
        make_server("127.0.0.1", port).server_close()
    prepare_home(settings)
    result = DemoResult()
    # One runtime for the whole demo: the local DynamoDB server it starts serves the ingest and
    # the API, and stops when the demo ends, however it ends (Ctrl-C included).
    with Runtime(settings) as rt:
        scenario, result.batches = ingest_dates(rt, settings.home_path / "scenario", echo,
                                                progress, meter)
        base_url, shutdown = serve_in_thread(settings, port=port if serve else 0, runtime=rt)
        unregister = register(settings, API, base_url) if serve else (lambda: None)
        try:
            _walkthrough(result, scenario, settings, base_url, serve, echo, stop)
        finally:
            unregister()
            shutdown()
    return result


def _walkthrough(result: DemoResult, scenario: Any, settings: Settings, base_url: str,
                 serve: bool, echo: Echo, stop: threading.Event | None) -> None:
    """Call the API for each example request, then serve until Ctrl-C (with ``serve``)."""
    result.base_url = base_url
    echo(f"\n=== API at {base_url} (the same handlers API Gateway invokes)")
    for path in example_requests(scenario):
        status, body = call(base_url, path)
        result.requests.append((path, status, body))
        echo(f"\nGET {path} -> {status}\n{_shorten(body)}")
    if serve:
        echo(f"\nServing {base_url} until Ctrl-C. Try:\n"
             f"  curl {base_url}/drug/0002-3227-30\n"
             f"  curl '{base_url}/search/drug?q=insulin*&limit=5'\n"
             f"  curl {base_url}/openapi.yaml\n"
             f"and, in another shell: PPSTACK_HOME={settings.home} ppstack status DRUG")
        waiter = stop or threading.Event()
        try:
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            echo("stopping")
