"""The Step Functions adapter of ``pipeline.run`` (prepare / guard / record / fail) and abandon.

The state machine is played by ``drive``: the same Lambda entry points (``aws_handler.step`` /
``sync``) on a local runtime, with the LocalEngine executing the rendered SQL where Athena's
``.sync`` tasks would, and the state passed through JSON between states as Step Functions does.
An AthenaEngine over a recording client checks the SQL rendered for AWS.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pipeline_support import normalized, table_rows

from deliveries import cut
from ppstack.backends import Runtime
from ppstack.cli.main import cli
from ppstack.engine.athena import AthenaEngine
from ppstack.engine.base import QueryContext
from ppstack.entities import DRUG, SOURCES
from ppstack.entities.spec import conformed_columns, staging_columns
from ppstack.errors import Locked, Refused
from ppstack.layout import lock_key
from ppstack.pipeline import aws_handler, aws_steps
from ppstack.pipeline import run as run_module
from ppstack.pipeline.aws_steps import STATE_LIMIT, prepare_batch, prepare_pending
from ppstack.pipeline.batch import BatchParams, Statement
from ppstack.pipeline.ledger import Ledger
from ppstack.pipeline.lock import EntityLock
from ppstack.pipeline.run import ABANDONED, abandon_batch, run_batch
from ppstack.pipeline.steps import CLOSE, INSERT, STAGE, ensure_conformed, nothing_written
from ppstack.raw.archive import archive
from ppstack.settings import Settings, load_settings
from ppstack.storage.local import LocalObjectStore

DAY1, DAY2, DAY3 = "2019-04-29", "2019-04-30", "2019-05-01"
BATCH = "20190429T060000.000000Z"


# ---- helpers ----------------------------------------------------------------------------------

def deploy(rt: Runtime) -> None:
    """What the CDK stack does before any execution: the conformed table exists."""
    ensure_conformed(rt, DRUG)


def sfn(value: dict[str, Any]) -> dict[str, Any]:
    """Step Functions passes JSON between states."""
    return json.loads(json.dumps(value))


def run_shipped(rt: Runtime, state: dict[str, Any]) -> dict[str, Any]:
    """A Map state of Athena ``.sync`` tasks: the shipped statements, in order, in their context;
    the query execution ids land in ``$.athena.<step>``."""
    ids = []
    for item in state["sql"]:
        statement = Statement.from_state(item)
        rt.engine.execute(statement.sql, statement.context)
        ids.append({"QueryExecutionId": uuid.uuid4().hex})
    return {**state, "athena": {**state.get("athena", {}), state["step"]: ids}}


def drive(rt: Runtime, ingest_date: str, until: str = "synced", *,
          event: dict[str, Any] | None = None) -> dict[str, Any]:
    """The state machine of infra/ppstack_infra/pipeline.py over the local runtime."""
    state = sfn(aws_handler.step({"action": "prepare", "state": event or {
        "entity": "DRUG", "source": "FDA_NDC", "ingest_date": ingest_date}}))
    if not state.get("ready"):
        return state
    try:
        for step, reached in (("stage", "staged"), ("close", "closed"), ("insert", "inserted")):
            state = run_shipped(rt, state)
            state = sfn(aws_handler.step({"action": "advance", "step": step, "state": state}))
            if until == reached:
                return state
        return sfn(aws_handler.sync({"state": state}))
    except Exception as e:  # Catch -> MarkFailed, with the error as Step Functions gives it
        cause = json.dumps({"errorMessage": str(e), "errorType": type(e).__name__})
        aws_handler.step({"action": "fail", "state": state,
                          "error": {"Error": type(e).__name__, "Cause": cause}})
        raise


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Runtime:
    """A local runtime (with DynamoDB) that the Lambda entry points use instead of AWS."""
    rt = Runtime(settings)
    deploy(rt)
    monkeypatch.setattr(aws_handler, "_runtime", lambda: rt)
    yield rt
    rt.close()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> Runtime:
    """The same without DynamoDB (``rt`` of tests/pipeline/conftest.py): up to ``inserted``."""
    deploy(rt)
    monkeypatch.setattr(aws_handler, "_runtime", lambda: rt)
    return rt


def archive_day(rt: Runtime, files: list[Path], day: str) -> None:
    archive(rt, DRUG, SOURCES["FDA_NDC"], files, day)


def ledger_view(rt: Runtime) -> list[tuple]:
    """The ledger without run-specific values (ids, timings, query ids)."""
    return [(r.ingest_date, r.state, r.completed, r.final_state, r.counts, r.dynamodb,
             sorted(r.steps), bool(r.raw)) for r in Ledger(rt.store).list(DRUG.name)]


def dates_by_batch(rt: Runtime) -> dict[str, str]:
    return {r.batch_id: r.ingest_date for r in Ledger(rt.store).list(DRUG.name)}


def locked(rt: Runtime) -> bool:
    return rt.store.head(lock_key(DRUG.name)) is not None


# ---- the whole flow against run_batch ---------------------------------------------------------

@pytest.mark.slow
def test_aws_steps_same_table_and_ledger_as_run_batch(local: Runtime, sample_files: dict,
                                                     tmp_path: Path) -> None:
    days = [(DAY1, cut(sample_files, tmp_path / "d1", products=80)),
            (DAY2, cut(sample_files, tmp_path / "d2", products=100, drop_packages=2, rename=5))]
    other = Runtime(load_settings(backend="local", home=str(tmp_path / "reference"),
                                  dynamodb_endpoint=local.settings.dynamodb_endpoint,
                                  dynamodb_table=f"t-{uuid.uuid4().hex[:12]}"))
    try:
        for day, files in days:
            archive_day(local, files, day)
            archive_day(other, files, day)
            state = drive(local, day)
            reference = run_batch(other, DRUG, "FDA_NDC", day)
            assert state["completed"] == reference.state == "synced"
            assert not locked(local) and not locked(other)
        assert ledger_view(local) == ledger_view(other)
        counts = Ledger(local.store).list(DRUG.name)[-1].counts
        assert counts["updated"] > 0 and counts["deleted"] == 2 and counts["inserted"] > 0
        assert (normalized(table_rows(local), dates_by_batch(local))
                == normalized(table_rows(other), dates_by_batch(other)))
        # a complete date again: nothing to do, lock not kept
        again = drive(local, DAY2)
        assert again["ready"] is False and "already complete" in again["reason"]
        assert not locked(local)
    finally:
        other.close()


def recording(monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> list[tuple[str, QueryContext]]:
    """Every statement ``rt``'s engine executes from now on, with its context, in order."""
    executed: list[tuple[str, QueryContext]] = []
    execute = rt.engine.execute

    def record(sql: str, context: QueryContext | None = None) -> Any:
        executed.append((sql, context or QueryContext()))
        return execute(sql, context)

    monkeypatch.setattr(rt.engine, "execute", record)
    return executed


def test_both_drivers_run_the_same_statements_in_the_same_order(
        offline: Runtime, monkeypatch: pytest.MonkeyPatch, sample_files: dict,
        tmp_path: Path) -> None:
    """One definition per step: the Step Functions driver (Lambdas + shipped statements) and the
    local runner execute the same statements, text and execution context, in the same order,
    and leave the same ledger."""
    files = cut(sample_files, tmp_path / "d1", products=20)
    monkeypatch.setattr(run_module, "new_batch_id", lambda: BATCH)
    archive_day(offline, files, DAY1)
    other = Runtime(load_settings(backend="local", home=str(tmp_path / "reference"),
                                  dynamodb_endpoint="http://127.0.0.1:9"))
    try:
        archive_day(other, files, DAY1)
        shipped = recording(monkeypatch, offline)
        state = drive(offline, DAY1, until="inserted")
        local = recording(monkeypatch, other)
        record = run_batch(other, DRUG, "FDA_NDC", DAY1, steps=(STAGE, CLOSE, INSERT))
        assert state["batch_id"] == record.batch_id == BATCH
        assert [sql for sql, _ in shipped] == [sql for sql, _ in local]
        assert shipped == local
        templates = {"MERGE INTO", "INSERT INTO", "CREATE TABLE staging.drug_batch_"}
        assert all(any(t in sql for sql, _ in local) for t in templates)
        (aws,), (ref,) = ledger_view(offline), ledger_view(other)
        assert (aws[:3], aws[4], aws[6]) == (ref[:3], ref[4], ref[6])  # not the final state
    finally:
        other.close()


# ---- prepare ----------------------------------------------------------------------------------

def test_prepare_without_archive_is_not_ready(offline: Runtime) -> None:
    state = drive(offline, DAY1)
    assert state["ready"] is False and "nothing archived" in state["reason"]
    assert not locked(offline) and Ledger(offline.store).list(DRUG.name) == []


def test_prepare_while_locked_is_not_ready(offline: Runtime, sample_files: dict,
                                           tmp_path: Path) -> None:
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    with EntityLock(offline.store, DRUG.name, stale_seconds=3600):
        state = prepare_batch(offline, "DRUG", "FDA_NDC", DAY1)
    assert state["ready"] is False and "locked" in state["reason"]
    assert Ledger(offline.store).list(DRUG.name) == []


def test_prepare_from_s3_event_and_schedule(offline: Runtime, sample_files: dict,
                                            tmp_path: Path) -> None:
    event = {"source": "aws.s3", "detail-type": "Object Created",
             "detail": {"bucket": {"name": "b"},
                        "object": {"key": f"raw/DRUG/FDA_NDC/{DAY1}/product.txt"}}}
    assert drive(offline, DAY1, event=event)["ready"] is False  # archive not complete yet
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    state = sfn(aws_handler.step({"action": "prepare", "state": event}))
    assert state["ready"] is True and state["ingest_date"] == DAY1
    # the sweep resumes the unfinished batch rather than starting another
    aws_handler.step({"action": "fail", "state": state, "error": {"Error": "States.Timeout"}})
    swept = prepare_pending(offline)
    assert (swept["batch_id"], swept["resumed"]) == (state["batch_id"], True)


def test_prepare_pending_picks_earliest_waiting_date(offline: Runtime, sample_files: dict,
                                                     tmp_path: Path) -> None:
    assert prepare_pending(offline)["ready"] is False
    for day in (DAY2, DAY1):
        archive_day(offline, cut(sample_files, tmp_path / day, products=10), day)
    assert prepare_pending(offline)["ingest_date"] == DAY1


def test_prepare_renders_resumed_stage_without_written_ctas(offline: Runtime, sample_files: dict,
                                                            tmp_path: Path) -> None:
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    state = prepare_batch(offline, "DRUG", "FDA_NDC", DAY1)
    run_shipped(offline, state)
    aws_handler.step({"action": "fail", "state": sfn(state), "error": {"Error": "X"}})
    resumed = prepare_batch(offline, "DRUG", "FDA_NDC", DAY1)
    assert resumed["batch_id"] == state["batch_id"] and resumed["step"] == "stage"
    ctas = [s for s in state["sql"] if s not in resumed["sql"]]
    assert len(ctas) == 2 and all("external_location" in s["sql"].lower() for s in ctas)


# ---- guard, record, fail ----------------------------------------------------------------------

def test_guard_records_staged_counts_and_guard(offline: Runtime, sample_files: dict,
                                               tmp_path: Path) -> None:
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=30), DAY1)
    state = drive(offline, DAY1, until="inserted")
    record = Ledger(offline.store).load("DRUG", state["batch_id"])
    assert (record.state, record.completed) == ("inserted", "inserted")
    assert record.counts["staged"] == record.counts["inserted"] > 0
    assert record.steps["close"]["guard"]["current_keys"] == 0
    assert len(record.steps["insert"]["query_execution_ids"]) == 1
    assert set(record.timings) == {"stage", "close", "insert"}
    assert locked(offline)  # held until synced (or failed)


def test_guard_mass_delete_fails_batch_then_abandon_lets_next_date_run(
        local: Runtime, sample_files: dict, tmp_path: Path) -> None:
    archive_day(local, cut(sample_files, tmp_path / "d1", products=40), DAY1)
    drive(local, DAY1)
    before = table_rows(local)
    archive_day(local, cut(sample_files, tmp_path / "d2", products=40, drop_packages=10), DAY2)
    with pytest.raises(Refused, match="allow-mass-delete"):
        drive(local, DAY2)
    failed = Ledger(local.store).list(DRUG.name)[-1]
    assert (failed.state, failed.completed, failed.error["step"]) == ("failed", "staged", "close")
    assert failed.error["type"] == "Refused" and not locked(local)
    assert table_rows(local) == before

    archive_day(local, cut(sample_files, tmp_path / "d3", products=45), DAY3)
    with pytest.raises(Refused, match="not finished"):
        drive(local, DAY3)
    abandoned = abandon_batch(local, "DRUG", failed.batch_id, "truncated package file")
    assert abandoned.state == ABANDONED and "truncated package file" in abandoned.notes[-1]
    assert aws_steps._pending(local, DRUG) == ("FDA_NDC", DAY3)  # the abandoned date is skipped
    assert drive(local, DAY3)["completed"] == "synced"
    assert [(r.ingest_date, r.state) for r in Ledger(local.store).list("DRUG")] == [
        (DAY1, "synced"), (DAY2, ABANDONED), (DAY3, "synced")]


def test_record_failure_marks_failed_in_next_step_and_releases_lock(
        offline: Runtime, sample_files: dict, tmp_path: Path) -> None:
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    state = drive(offline, DAY1, until="closed")
    cause = json.dumps({"errorMessage": "Query exhausted resources", "errorType": "Athena"})
    aws_handler.step({"action": "fail", "state": state,
                      "error": {"Error": "Athena.AthenaException", "Cause": cause}})
    record = Ledger(offline.store).load("DRUG", state["batch_id"])
    assert (record.state, record.completed, record.error["step"]) == ("failed", "closed", "insert")
    assert record.error["message"] == "Query exhausted resources"
    assert not locked(offline)
    with pytest.raises(Locked):  # the failed execution cannot go on
        aws_handler.step({"action": "advance", "step": "insert", "state": state})
    resumed = drive(offline, DAY1, until="inserted")
    record = Ledger(offline.store).load("DRUG", state["batch_id"])
    assert resumed["batch_id"] == state["batch_id"] and record.attempts == 2
    assert record.completed == "inserted" and record.counts["inserted"] > 0


def test_record_step_after_lock_takeover_is_refused(offline: Runtime, sample_files: dict,
                                                    tmp_path: Path) -> None:
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    state = prepare_batch(offline, "DRUG", "FDA_NDC", DAY1)
    offline.store.delete(lock_key("DRUG"))
    with EntityLock(offline.store, DRUG.name, stale_seconds=3600):
        with pytest.raises(Locked, match="no longer holds"):
            aws_handler.step({"action": "advance", "step": "stage", "state": sfn(state)})
        out = aws_handler.step({"action": "fail", "state": sfn(state), "error": {"Error": "X"}})
        assert locked(offline) and "left to the run" in out["ledger"]
    assert Ledger(offline.store).load("DRUG", state["batch_id"]).state == "archived"


# ---- SQL for AWS ------------------------------------------------------------------------------

class RecordingAthena:
    """A boto3 Athena client stand-in: every statement succeeds and returns one NULL row."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def start_query_execution(self, **kwargs: Any) -> dict[str, str]:
        self.sql.append(kwargs["QueryString"])
        return {"QueryExecutionId": f"q{len(self.sql)}"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
        return {"QueryExecution": {"Status": {"State": "SUCCEEDED"}, "StatementType": "DML"}}

    def get_query_results(self, **_kwargs: Any) -> dict[str, Any]:
        if self.sql[-1].endswith("LIMIT 0"):  # the spec check reads a table's columns
            names = [c.name for c in (*conformed_columns(DRUG), *staging_columns(DRUG))]
            info = [{"Name": n, "Label": n, "Type": "varchar"} for n in dict.fromkeys(names)]
            return {"ResultSet": {"ResultSetMetadata": {"ColumnInfo": info},
                                  "Rows": [{"Data": [{"VarCharValue": n["Name"]}
                                                     for n in info]}]}}
        column = {"Name": "last_applied", "Label": "last_applied", "Type": "date"}
        return {"ResultSet": {"ResultSetMetadata": {"ColumnInfo": [column]},
                              "Rows": [{"Data": [{"VarCharValue": "last_applied"}]},
                                       {"Data": [{}]}]}}


class PropertiesOnly:
    """The table catalog port without tables: properties kept in a dict (the spec check's
    reads and writes; this test is about the SQL)."""

    def __init__(self) -> None:
        self.props: dict[tuple[str, str], dict[str, str]] = {}

    def properties(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.props.get((namespace, name), {}))

    def set_properties(self, namespace: str, name: str, properties: dict[str, str]) -> None:
        self.props.setdefault((namespace, name), {}).update(properties)


def test_prepare_renders_athena_sql_with_s3_tables_refs(offline_settings: Settings,
                                                        sample_files: dict, tmp_path: Path) -> None:
    settings = load_settings(backend="aws", home=offline_settings.home, bucket="pp-archive",
                             table_bucket="pp-tables")
    client = RecordingAthena()
    rt = Runtime(settings, _store=LocalObjectStore(tmp_path / "s3", "pp-archive"),
                 _engine=AthenaEngine(settings, client=client, sleep=lambda _s: None),
                 _tables=PropertiesOnly())
    archive_day(rt, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    state = prepare_batch(rt, "DRUG", "FDA_NDC", DAY1)

    conformed = '"s3tablescatalog/pp-tables"."conformed"."drug"'
    stage = [Statement.from_state(s) for s in state["sql"]]
    assert state["ready"] is True and state["step"] == "stage"
    assert len(json.dumps(state)) < STATE_LIMIT
    # CloudFormation created the Glue databases and the S3 table: not created again
    assert [s.template for s in stage] == [
        "ddl_table_raw", "ddl_table_raw", "ddl_staging_batch", "ddl_staging_rejects",
        "stage_drug_fda_ndc_rejects", "stage_drop_ctas", "stage_drug_fda_ndc", "stage_drop_ctas"]
    assert all(s.context.catalog == "AwsDataCatalog" and s.context.database for s in stage)
    batch = state["batch_id"]
    assert any(f"s3://pp-archive/staging/DRUG/{batch}/" in s.sql for s in stage)
    assert any(f"s3://pp-archive/staging_rejects/DRUG/{batch}/" in s.sql for s in stage)
    assert sum(s.sql.lstrip().splitlines()[-1].startswith("DROP TABLE IF EXISTS staging.drug_")
               for s in stage) == 2
    params = BatchParams.build(settings, DRUG, "FDA_NDC", DAY1, batch)
    (close,) = CLOSE.definition.statements(params, nothing_written)
    (insert,) = INSERT.definition.statements(params, nothing_written)
    assert f"MERGE INTO {conformed} AS t" in close.sql
    assert f"INSERT INTO {conformed} (" in insert.sql
    assert close.context == insert.context == QueryContext("AwsDataCatalog", "staging")
    assert all(f"'{batch}'" in s.sql for s in (close, insert))
    # the Lambda itself only read: the spec check's columns of conformed and staging (pinned to
    # a batch id no batch has: the injected projection refuses a query without one), then the
    # effective-date guard; the conformed table by its S3 Tables name
    assert [sql.splitlines()[0] for sql in client.sql[:2]] == [
        f"SELECT * FROM {conformed} LIMIT 0",
        "SELECT * FROM staging.drug_batch WHERE ingestion_batch_id = 'none' LIMIT 0"]
    assert len(client.sql) == 3 and conformed in client.sql[2]
    assert "guard_effective_date" in client.sql[2]


# ---- abandon ----------------------------------------------------------------------------------

def test_abandon_refused_once_closed(offline: Runtime, sample_files: dict, tmp_path: Path) -> None:
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    state = drive(offline, DAY1, until="closed")
    aws_handler.step({"action": "fail", "state": state, "error": {"Error": "X"}})
    with pytest.raises(Refused, match="reached 'closed'.*Finish it instead"):
        abandon_batch(offline, "DRUG", state["batch_id"], "no")


def test_abandon_refused_when_table_holds_batch_rows(offline: Runtime, sample_files: dict,
                                                     tmp_path: Path) -> None:
    """A kill after the MERGE committed but before the ledger said ``closed``."""
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    state = drive(offline, DAY1, until="inserted")
    record = Ledger(offline.store).load("DRUG", state["batch_id"])
    record.state = record.completed = "staged"
    Ledger(offline.store).save(record)
    offline.store.delete(lock_key("DRUG"))
    with pytest.raises(Refused, match="conformed rows already carry its id"):
        abandon_batch(offline, "DRUG", state["batch_id"], "no")


def test_abandon_stopped_batch_then_same_date_runs_again(offline: Runtime, sample_files: dict,
                                                         tmp_path: Path) -> None:
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    first = prepare_batch(offline, "DRUG", "FDA_NDC", DAY1)
    first = run_shipped(offline, first)
    aws_handler.step({"action": "advance", "step": "stage", "state": sfn(first)})  # then stopped
    with pytest.raises(Locked):  # its lock is still there: it might be running
        abandon_batch(offline, "DRUG", first["batch_id"], "operator")
    offline.store.delete(lock_key("DRUG"))  # as if the stale lock had expired
    record = abandon_batch(offline, "DRUG", first["batch_id"], "operator")
    assert (record.state, record.completed) == (ABANDONED, "staged")
    assert abandon_batch(offline, "DRUG", first["batch_id"], "again").notes == record.notes
    rerun = drive(offline, DAY1, until="inserted")
    assert rerun["batch_id"] != first["batch_id"] and rerun["completed"] == "inserted"


def test_abandon_complete_batch_is_refused(offline: Runtime, sample_files: dict,
                                           tmp_path: Path) -> None:
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    record = run_batch(offline, DRUG, "FDA_NDC", DAY1, steps=(STAGE, CLOSE, INSERT))
    with pytest.raises(Refused, match="is complete"):
        abandon_batch(offline, "DRUG", record.batch_id, "no")


def test_abandon_cli_failed_batch_then_rerun_of_date(offline: Runtime, sample_files: dict,
                                                     tmp_path: Path) -> None:
    archive_day(offline, cut(sample_files, tmp_path / "d1", products=10), DAY1)
    state = prepare_batch(offline, "DRUG", "FDA_NDC", DAY1)
    aws_handler.step({"action": "fail", "state": sfn(state), "error": {"Error": "States.Timeout"}})
    home = offline.settings.home
    out = CliRunner().invoke(cli, ["--home", home, "abandon", "DRUG", "--batch-id",
                                   state["batch_id"], "--reason", "wrong file", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["state"] == ABANDONED
    # abandoned: not applied, so the same date may run again as a new batch
    record = run_batch(offline, DRUG, "FDA_NDC", DAY1, steps=(STAGE, CLOSE, INSERT))
    assert record.batch_id != state["batch_id"] and record.state == "inserted"
    again = CliRunner().invoke(cli, ["--home", home, "abandon", "DRUG", "--batch-id",
                                     record.batch_id, "--reason", "x"])
    assert again.exit_code != 0 and isinstance(again.exception, Refused)
