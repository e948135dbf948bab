"""``--backend aws`` end to end, without an account: ingest -> status -> sync -> the three API
handlers against moto (S3, DynamoDB, Glue), with Athena answered by the local engine
(``tests/aws_emulator.py``), which also checks every request's workgroup, execution context and
the catalogs and databases each statement names. The end state (conformed rows, DynamoDB items,
ledger) equals the local backend's for the same deliveries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aws_emulator import TABLE_BUCKET, emulated_aws
from deliveries import cut
from ppstack.api import handlers
from ppstack.backends import Runtime, table_ref_for
from ppstack.cli.main import cli
from ppstack.entities import DRUG
from ppstack.pipeline import run as run_module
from ppstack.serving.changes import comparable
from ppstack.serving.client import make_client
from ppstack.settings import Settings, load_settings

DAY1, DAY2 = "2019-04-29", "2019-04-30"
EVENTS = Path(__file__).resolve().parents[1] / "events"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def batch_id(day: str) -> str:
    return f"{day.replace('-', '')}T060000.000000Z"


@pytest.fixture
def deliveries(sample_files: dict[str, Path], tmp_path: Path) -> list[tuple[str, list[Path]]]:
    return [(DAY1, cut(sample_files, tmp_path / "d1", products=60)),
            (DAY2, cut(sample_files, tmp_path / "d2", products=70, drop_packages=2, rename=5))]


def cli_run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def pin_batch_ids(monkeypatch: pytest.MonkeyPatch, days: list[str]) -> None:
    """The same batch ids on both backends, so their end states compare directly."""
    ids: Iterator[str] = iter(batch_id(d) for d in days)
    monkeypatch.setattr(run_module, "new_batch_id", lambda: next(ids))


def apply_deliveries(backend: str, home: str, deliveries: list[tuple[str, list[Path]]],
                     monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """ingest each day -> status -> sync (repeat of the last batch) -> the API handlers."""
    pin_batch_ids(monkeypatch, [day for day, _ in deliveries])
    base = ["--backend", backend, "--home", home, "-q"]
    for day, files in deliveries:
        cli_run(*base, "ingest", "DRUG", "FDA_NDC", *map(str, files), "--date", day,
                "--format", "json")
    status = json.loads(cli_run(*base, "status", "DRUG", "--format", "json"))
    resync = json.loads(cli_run(*base, "sync", "DRUG", "--batch-id", batch_id(DAY2),
                                "--format", "json"))
    return {"status": status, "resync": resync, "api": call_api()}


def call_api() -> dict[str, Any]:
    """The three Lambda handlers on API Gateway's events (tests/events)."""
    out = {}
    for name, handler in (("get_drug", handlers.get_drug),
                          ("get_drug_history", handlers.get_drug_history),
                          ("search_drug", handlers.search_drug)):
        event = json.loads((EVENTS / f"{name}.json").read_text())
        response = handler(event, None)
        out[name] = (response["statusCode"], json.loads(response["body"]))
    return out


def ledger_view(status: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ledger without what depends on the run's speed and clock."""
    return [{k: v for k, v in row.items() if k not in ("seconds", "started", "finished")}
            for row in status]


def conformed_rows(settings: Settings) -> list[tuple[Any, ...]]:
    """Every conformed row, through the backend's own engine (Athena needs the catalog)."""
    table = table_ref_for(settings.backend, TABLE_BUCKET, "conformed", DRUG.conformed_table)
    with Runtime(settings) as rt:
        result = rt.engine.execute(f"SELECT * FROM {table}")
        rows = [tuple(str(v) for v in row) for row in result.rows]
        return sorted(rows)


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    """Every item; batch items without ``synced_at`` (the wall-clock time of each run)."""
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        items.extend(comparable(i) or i for i in page["Items"])
    return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


@pytest.mark.slow
def test_aws_backend_end_state_equals_local_backend(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings,
        deliveries: list[tuple[str, list[Path]]]) -> None:
    # the local backend (dynalite) first, as the reference
    local_home = str(tmp_path / "local")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # dynalite wants a signature
        monkeypatch.setenv(name, "local")
    monkeypatch.setenv("PPSTACK_DYNAMODB_ENDPOINT", settings.dynamodb_endpoint)
    monkeypatch.setenv("PPSTACK_DYNAMODB_TABLE", settings.dynamodb_table)
    from ppstack.api import config as api_config

    api_config.reset()
    local = apply_deliveries("local", local_home, deliveries, monkeypatch)
    local_settings = load_settings(backend="local", home=local_home)
    local_rows = conformed_rows(local_settings)
    local_items = scan(make_client(settings.region, settings.dynamodb_endpoint, local=True),
                       settings.dynamodb_table)
    api_config.reset()

    with emulated_aws(tmp_path, monkeypatch) as aws:
        remote = apply_deliveries("aws", str(tmp_path / "aws-home"), deliveries, monkeypatch)
        remote_rows = conformed_rows(aws.settings)
        remote_items = [comparable(i) or i for i in aws.items()]
        statements = aws.athena.statements

    assert [r["state"] for r in remote["status"]] == ["synced", "synced"]
    assert ledger_view(remote["status"]) == ledger_view(local["status"])
    assert remote["status"][1]["updated"] > 0 and remote["status"][1]["deleted"] == 2
    assert remote_rows == local_rows and len(remote_rows) > 60
    assert remote_items == local_items and remote_items
    assert remote["resync"] == local["resync"]
    assert remote["api"] == local["api"]
    assert [code for code, _ in remote["api"].values()] == [200, 200, 200]
    # every statement went to Athena in a context whose catalog and database exist, and
    # nothing the deployment owns was created again
    assert statements and not any("CREATE DATABASE" in sql or "ICEBERG" in sql
                                  for sql, _ in statements)
    assert {c.catalog for _, c in statements} == {"AwsDataCatalog"}


def test_emulated_athena_refuses_names_athena_cannot_resolve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in is strict where Athena is: a conformed table named without its S3 Tables
    catalog, or a context database that does not exist, fails the query."""
    from ppstack.engine.base import QueryContext
    from ppstack.errors import EngineError

    with emulated_aws(tmp_path, monkeypatch) as aws, Runtime(aws.settings) as rt:
        good = table_ref_for("aws", TABLE_BUCKET, "conformed", "drug")
        assert rt.engine.execute(f"SELECT count(*) FROM {good}").scalar() == 0
        with pytest.raises(EngineError, match="EntityNotFound"):
            rt.engine.execute("SELECT count(*) FROM conformed.drug")
        with pytest.raises(EngineError, match="EntityNotFound"):
            rt.engine.execute("SELECT 1", QueryContext("AwsDataCatalog", "nowhere"))


def test_both_drivers_send_athena_the_same_statements(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      sample_files: dict[str, Path]) -> None:
    """On the AWS backend too: the local runner (``ppstack run --backend aws``) and the Step
    Functions driver send Athena the same statements, text and execution context, in order."""
    from aws_emulator import run_state_machine
    from ppstack.entities import SOURCES
    from ppstack.pipeline import aws_handler
    from ppstack.pipeline.run import run_batch
    from ppstack.raw.archive import archive

    files = cut(sample_files, tmp_path / "d1", products=20)
    sent = []
    for driver in ("local", "step functions"):
        pin_batch_ids(monkeypatch, [DAY1])
        with emulated_aws(tmp_path / driver, monkeypatch) as aws, Runtime(aws.settings) as rt:
            archive(rt, DRUG, SOURCES["FDA_NDC"], files, DAY1)
            before = len(aws.athena.statements)
            if driver == "local":
                assert run_batch(rt, DRUG, "FDA_NDC", DAY1).state == "synced"
            else:
                monkeypatch.setattr(aws_handler, "_runtime", lambda rt=rt: rt)
                event = {"entity": "DRUG", "source": "FDA_NDC", "ingest_date": DAY1}
                assert run_state_machine(aws, event)["completed"] == "synced"
            sent.append(aws.athena.statements[before:])
    assert sent[0] == sent[1] and len(sent[0]) > 10
