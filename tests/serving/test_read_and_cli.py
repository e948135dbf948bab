"""The engine-facing wrappers (templates through the SqlEngine port) and the CLI commands.

The engine is the real one (``LocalEngine``: DuckDB + pyiceberg) over the real conformed Iceberg
table, which holds the SCD2 model's rows (``conformed_rows.load_conformed``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from conformed_rows import load_conformed
from scd2_model import Scd2Model
from serving_support import SPEC, scan_all

from ppstack.backends import Runtime
from ppstack.cli.main import main
from ppstack.errors import BadInput
from ppstack.serving.projection import project
from ppstack.serving.read import batch_sql
from ppstack.serving.rebuild import rebuild
from ppstack.serving.reconcile import reconcile
from ppstack.serving.sync import sync_batch

NDC = "00002322730"


SNAPSHOTS = [
    (date(2025, 1, 3), {NDC: {"proprietary_name": "Prozac"},
                        "00000000001": {"proprietary_name": "Advil"}}),
    (date(2025, 1, 10), {NDC: {"proprietary_name": "Prozac Weekly"}}),
    (date(2025, 1, 17), {NDC: {"proprietary_name": "Prozac Weekly"},
                         "00000000001": {"proprietary_name": "Advil",
                                         "marketing_start_date": date(2001, 1, 1)}}),
]


def three_batches() -> Scd2Model:
    model = Scd2Model(SPEC)
    for day, snap in SNAPSHOTS:
        model.apply(snap, day)
    return model


def test_sync_batch_reads_rows_through_engine(new_runtime: Callable[..., Runtime], runtime: Runtime,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch is synced right after conformed received it (docs/sync.md#why-it-converges)."""
    model = Scd2Model(SPEC)
    rt = new_runtime()
    statements: list[str] = []
    execute = rt.engine.execute

    def recording(sql: str):  # a spy: the real engine still runs every statement
        statements.append(sql)
        return execute(sql)

    monkeypatch.setattr(rt.engine, "execute", recording)
    for day, snap in SNAPSHOTS:
        b = model.apply(snap, day)
        # the fixture's own engine: not recorded
        load_conformed(runtime, SPEC, model.all_rows(), model.dates)
        sync_batch(rt, "DRUG", b)
    assert scan_all(rt.dynamodb, rt.settings.dynamodb_table) == project(
        SPEC, model.all_rows(), model.dates)
    assert statements and all("ingestion_batch_id = '" in s for s in statements)


def test_rebuild_and_reconcile_read_all_rows_through_engine(
        new_runtime: Callable[..., Runtime]) -> None:
    model = three_batches()
    rt = new_runtime()
    load_conformed(rt, SPEC, model.all_rows(), model.dates)
    stats = rebuild(rt, SPEC)
    assert stats.keys == 2 and stats.history_items == 2
    assert reconcile(rt, SPEC) == []


def test_batch_sql_bad_batch_id_refused(runtime: Runtime) -> None:
    with pytest.raises(BadInput):
        batch_sql(SPEC, runtime.engine, "pp-archive", "2025-01-03'; DROP TABLE x; --")


# ---- CLI ----
@pytest.fixture
def cli_env(new_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch):
    """ppstack's own entry point on the test's home: its engine is the real one, over the same
    conformed table the tests fill from the model (``load_conformed``)."""
    model = Scd2Model(SPEC)
    rt = new_runtime()
    monkeypatch.setenv("PPSTACK_HOME", rt.settings.home)
    monkeypatch.setenv("PPSTACK_DYNAMODB_ENDPOINT", rt.settings.dynamodb_endpoint)
    monkeypatch.setenv("PPSTACK_DYNAMODB_TABLE", rt.settings.dynamodb_table)
    return model, rt


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code)


def test_cli_sync_batch_then_reconcile_exit_zero(cli_env, capsys: pytest.CaptureFixture) -> None:
    model, rt = cli_env
    for day, snap in SNAPSHOTS:
        b = model.apply(snap, day)
        load_conformed(rt, SPEC, model.all_rows(), model.dates)
        capsys.readouterr()
        assert run_cli(["-q", "sync", "DRUG", "--batch-id", b, "--format", "json"]) == 0
    last = json.loads(capsys.readouterr().out)
    assert last["inserted"] == 1 and last["writes"] >= 1  # the reactivated key
    assert run_cli(["reconcile", "drug"]) == 0


def test_cli_reconcile_differences_exit_one(cli_env, capsys: pytest.CaptureFixture) -> None:
    _empty, rt = cli_env
    model = three_batches()
    load_conformed(rt, SPEC, model.all_rows(), model.dates)
    assert run_cli(["reconcile", "DRUG", "--format", "json"]) == 1  # table still empty
    diffs = json.loads(capsys.readouterr().out)
    assert {d["kind"] for d in diffs} == {"missing", "missing_token", "missing_change",
                                          "missing_batch"}


def test_cli_sync_rebuild_then_reconcile_clean(cli_env, capsys: pytest.CaptureFixture) -> None:
    _empty, rt = cli_env
    model = three_batches()
    load_conformed(rt, SPEC, model.all_rows(), model.dates)
    assert run_cli(["sync", "DRUG", "--rebuild", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["keys"] == 2
    assert run_cli(["reconcile", "DRUG"]) == 0


def test_cli_reconcile_repair_then_reconcile_clean(cli_env, capsys: pytest.CaptureFixture) -> None:
    _empty, rt = cli_env
    model = three_batches()
    load_conformed(rt, SPEC, model.all_rows())
    assert run_cli(["reconcile", "DRUG"]) == 1  # creates the (empty) table
    rt.dynamodb.put_item(TableName=rt.settings.dynamodb_table,  # an extra item to delete
                         Item={"PK": {"S": f"ITEM#DRUG#{NDC}"}, "SK": {"S": "V#1999-01-01"}})
    assert run_cli(["reconcile", "DRUG"]) == 1
    assert "ppstack reconcile DRUG --repair" in capsys.readouterr().err
    assert run_cli(["-q", "reconcile", "DRUG", "--repair", "--format", "json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["extra"] == 1 and stats["missing"] > 0 and stats["stale"] == 0
    assert run_cli(["reconcile", "DRUG"]) == 0


@pytest.mark.parametrize("args", [["sync", "DRUG"], ["sync", "DRUG", "--rebuild", "--batch-id",
                                                      "20250103T060000.000000Z"]])
def test_cli_sync_needs_exactly_one_mode(cli_env, args: list[str]) -> None:
    assert run_cli(args) == 2
