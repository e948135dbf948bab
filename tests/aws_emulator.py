"""AWS without an account, for tests of the ``--backend aws`` code paths.

- S3, DynamoDB and Glue are moto (``mock_aws``): the archive bucket, the serving table and the
  Glue databases ``raw`` / ``staging`` are created as the CDK stack creates them.
- Athena is ``AthenaOnLocalEngine``, a stand-in for the boto3 Athena client that executes each
  received statement on the local engine (DuckDB + pyiceberg), after checking what Athena checks
  of a request: the workgroup, a result location, and an execution context whose catalog exists
  (the default Glue catalog or ``s3tablescatalog/<table bucket>``) with a database that exists in
  it. The local engine reads and writes its own copy of the archive bucket, so the objects a
  statement reads are copied from moto first and the files it writes (staging CTAS) are copied
  back to moto afterwards, as Athena reads and writes S3.

Athena API behaviour encoded here:
- StartQueryExecution returns an id at once; GetQueryExecution reports the state, the statement
  type (DDL / DML / UTILITY) and the substatement type.
  ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryExecution.html
- GetQueryResults: SELECT results repeat the column labels as the first row; rows written by
  CTAS / INSERT / MERGE are ``UpdateCount``; values are strings (``VarCharValue``, absent for
  NULL) typed by ``ResultSetMetadata.ColumnInfo``; pages of at most ``MaxResults`` rows.
  ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html
- QueryExecutionContext names a catalog and a database the statement's unqualified names use.
  ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionContext.html
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from athena_results import query_results
from ppstack import backends
from ppstack.engine.athena import AthenaEngine
from ppstack.engine.base import DEFAULT_CATALOG, QueryContext, Result
from ppstack.engine.local import LocalEngine
from ppstack.layout import CONFORMED_NS, RAW_NS, STAGING_NS
from ppstack.settings import ENV, Settings, load_settings

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "pp-archive"
TABLE_BUCKET = "pp-tables"
WORKGROUP = "ppstack"
DYNAMODB_TABLE = "ppstack-serving"
RESULTS = "s3://pp-athena-results/athena-results/"
# What the Athena statements read and write in the archive bucket (copied to and from moto).
ATHENA_PREFIXES = ("raw_tabular/", "staging/", "staging_rejects/")

Recorder = Callable[[str, str, dict[str, Any]], None]  # (service, operation, params)


@dataclass
class Execution:
    sql: str
    context: QueryContext
    statement_type: str
    substatement_type: str
    result: Result
    state: str = "SUCCEEDED"


def statement_types(sql: str) -> tuple[str, str]:
    """(StatementType, SubstatementType) as Athena reports them for ``sql``."""
    tree = sqlglot.parse_one(sql, read="athena")
    if isinstance(tree, exp.Create):
        if tree.expression is not None:
            return "DML", "CREATE_TABLE_AS_SELECT"
        return "DDL", "CREATE_TABLE" if tree.kind == "TABLE" else "CREATE_DATABASE"
    if isinstance(tree, exp.Drop):
        return "DDL", "DROP_TABLE"
    if isinstance(tree, exp.Insert):
        return "DML", "INSERT"
    if isinstance(tree, exp.Merge):
        return "DML", "MERGE"
    return "DML", "SELECT"


class AthenaOnLocalEngine:
    """The boto3 Athena client methods ppstack uses, answered by the local engine."""

    def __init__(self, engine: LocalEngine, *, s3: Any, glue: Any, settings: Settings,
                 record: Recorder | None = None) -> None:
        self.engine = engine
        self.s3 = s3
        self.glue = glue
        self.settings = settings
        self.record = record or (lambda _s, _o, _p: None)
        self.executions: dict[str, Execution] = {}
        self.statements: list[tuple[str, QueryContext]] = []  # every statement received

    # -- the client API -----------------------------------------------------------------------

    def start_query_execution(self, **params: Any) -> dict[str, str]:
        self.record("athena", "StartQueryExecution", params)
        assert params["WorkGroup"] == self.settings.athena_workgroup, params["WorkGroup"]
        assert params["ResultConfiguration"]["OutputLocation"].startswith("s3://")
        assert len(params.get("ClientRequestToken", "x" * 32)) >= 32
        ctx = params.get("QueryExecutionContext") or {}
        context = QueryContext(ctx.get("Catalog", DEFAULT_CATALOG), ctx.get("Database"))
        self.check_context(context)
        sql = params["QueryString"]
        self.check_names(sql, context)
        self.statements.append((sql, context))
        kind, sub = statement_types(sql)
        self.pull()
        # The local engine has one catalog: the S3 Tables catalog's name is dropped from the
        # (double-quoted, as Trino requires) three-part names.
        local_sql = sql.replace(f'"s3tablescatalog/{self.settings.table_bucket}".', "")
        result = self.engine.execute(local_sql, context)
        self.push()
        query_id = str(uuid.uuid4())
        self.executions[query_id] = Execution(sql, context, kind, sub, result)
        return {"QueryExecutionId": query_id}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
        self.record("athena", "GetQueryExecution", {"QueryExecutionId": QueryExecutionId})
        run = self.executions[QueryExecutionId]
        return {"QueryExecution": {
            "QueryExecutionId": QueryExecutionId, "Query": run.sql,
            "StatementType": run.statement_type, "SubstatementType": run.substatement_type,
            "Status": {"State": run.state},
            "QueryExecutionContext": {"Catalog": run.context.catalog,
                                      **({"Database": run.context.database}
                                         if run.context.database else {})},
            "WorkGroup": self.settings.athena_workgroup}}

    def get_query_results(self, QueryExecutionId: str, MaxResults: int = 1000,  # noqa: N803
                          NextToken: str | None = None) -> dict[str, Any]:  # noqa: N803
        self.record("athena", "GetQueryResults", {"QueryExecutionId": QueryExecutionId})
        run = self.executions[QueryExecutionId]
        return query_results(run.result, run.statement_type, run.substatement_type,
                             MaxResults, NextToken)

    def stop_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
        self.record("athena", "StopQueryExecution", {"QueryExecutionId": QueryExecutionId})
        return {}

    # -- what Athena checks, and its S3 reads and writes ----------------------------------------

    def check_context(self, context: QueryContext) -> None:
        """The catalog must exist and the database must exist in it (Athena fails the query
        otherwise)."""
        tables_catalog = f"s3tablescatalog/{self.settings.table_bucket}"
        assert context.catalog in (DEFAULT_CATALOG, tables_catalog), context
        if context.database is None:
            return
        if context.catalog == tables_catalog:
            assert context.database == CONFORMED_NS, context
        else:
            self.glue.get_database(Name=context.database)  # EntityNotFoundException if absent

    def check_names(self, sql: str, context: QueryContext) -> None:
        """Every database-qualified table resolves in its catalog: the one named in the statement
        or else the context's (a conformed table named without the S3 Tables catalog, in the
        default catalog's context, does not exist on Athena)."""
        tree = sqlglot.parse_one(sql, read="athena")
        for table in tree.find_all(exp.Table):
            if not table.db:
                continue  # a CTE or an unqualified name: resolved by the context's database
            self.check_context(QueryContext(table.catalog or context.catalog, table.db))

    def pull(self) -> None:
        """Objects of the archive bucket the statements read, into the local engine's copy."""
        root = self.engine.objects.root / self.settings.bucket
        paginator = self.s3.get_paginator("list_objects_v2")
        for prefix in ATHENA_PREFIXES:
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    path = root / obj["Key"]
                    if not path.exists():
                        path.parent.mkdir(parents=True, exist_ok=True)
                        body = self.s3.get_object(Bucket=self.settings.bucket, Key=obj["Key"])
                        path.write_bytes(body["Body"].read())

    def push(self) -> None:
        """Files a statement wrote under the staging prefixes, into the moto bucket."""
        root = self.engine.objects.root / self.settings.bucket
        for prefix in ATHENA_PREFIXES[1:]:
            base = root / prefix
            if not base.exists():
                continue
            for path in base.rglob("*"):
                if path.is_file():
                    key = str(path.relative_to(root))
                    with contextlib.suppress(self.s3.exceptions.ClientError):
                        self.s3.head_object(Bucket=self.settings.bucket, Key=key)
                        continue
                    self.s3.put_object(Bucket=self.settings.bucket, Key=key,
                                       Body=path.read_bytes())


@dataclass
class EmulatedAws:
    """The emulated account of one test: settings for ``--backend aws`` and the clients."""

    settings: Settings
    athena: AthenaOnLocalEngine
    s3: Any
    dynamodb: Any
    glue: Any
    environ: dict[str, str] = field(default_factory=dict)

    def items(self) -> list[dict[str, Any]]:
        """Every item of the serving table, sorted by key."""
        items = []
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.settings.dynamodb_table)
        for page in pages:
            items.extend(page["Items"])
        return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


@contextlib.contextmanager
def emulated_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 record: Recorder | None = None,
                 names: dict[str, str] | None = None) -> Iterator[EmulatedAws]:
    """moto + the Athena stand-in, with what the CDK stack deploys; ``--backend aws`` commands
    and the Lambda handlers in this context talk to them (environment variables as on Lambda;
    ``names`` overrides them, e.g. with a synthesized Lambda's environment)."""
    import boto3
    from moto import mock_aws

    from ppstack.serving.table import ensure_table

    environ = {
        ENV["backend"]: "aws", ENV["home"]: str(tmp_path / "aws-home"), ENV["bucket"]: BUCKET,
        ENV["table_bucket"]: TABLE_BUCKET, ENV["dynamodb_table"]: DYNAMODB_TABLE,
        ENV["athena_workgroup"]: WORKGROUP, ENV["athena_output"]: RESULTS,
        ENV["region"]: REGION, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        **(names or {}),
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(ENV["dynamodb_endpoint"], raising=False)
    with mock_aws():
        settings = load_settings()
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=settings.bucket)
        s3.create_bucket(Bucket=settings.athena_output.split("/")[2])
        glue = boto3.client("glue", region_name=REGION)
        for name in (RAW_NS, STAGING_NS):
            glue.create_database(DatabaseInput={"Name": name})
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        ensure_table(dynamodb, settings.dynamodb_table)
        engine = LocalEngine(load_settings(backend="local", home=str(tmp_path / "athena"),
                                           bucket=settings.bucket,
                                           dynamodb_endpoint="http://127.0.0.1:9"))
        athena = AthenaOnLocalEngine(engine, s3=s3, glue=glue, settings=settings, record=record)
        _deploy_conformed(engine, settings)
        _deploy_table_bucket(engine, settings)
        counter = itertools.count()

        def make_engine(s: Settings) -> Any:
            if s.backend != "aws":
                return original(s)
            return AthenaEngine(s, client=athena, sleep=lambda _s: None,
                                clock=lambda: float(next(counter)))

        original = backends.make_engine
        monkeypatch.setattr(backends, "make_engine", make_engine)
        from ppstack.api import config as api_config

        api_config.reset()
        try:
            yield EmulatedAws(settings, athena, s3, dynamodb, glue, environ)
        finally:
            api_config.reset()
            engine.close()


def _deploy_conformed(engine: LocalEngine, settings: Settings) -> None:
    """What CloudFormation creates, in the local engine's catalog too: the databases and the
    conformed tables."""
    from ppstack.backends import TableRefs
    from ppstack.entities import ENTITIES
    from ppstack.sql import render
    from ppstack.sql.params import entity_params

    for name in ("ddl_database_raw", "ddl_database_staging"):
        engine.execute(render(name, {"raw_db": RAW_NS, "staging_db": STAGING_NS}))
    for spec in ENTITIES.values():
        params = entity_params(spec, TableRefs("local", settings.table_bucket), settings.bucket)
        engine.execute(render("ddl_conformed", params))


def _deploy_table_bucket(engine: LocalEngine, settings: Settings) -> None:
    """The table bucket, namespace and conformed tables in moto's S3 Tables, each pointing at a
    copy of the local table's Iceberg metadata in its warehouse location: what the Lambdas'
    ``S3TablesCatalog`` reads and commits table properties to (the rows stay in the local engine,
    which answers Athena)."""
    import boto3

    from ppstack.entities import ENTITIES

    tables = boto3.client("s3tables", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    arn = tables.create_table_bucket(name=settings.table_bucket)["arn"]
    tables.create_namespace(tableBucketARN=arn, namespace=[CONFORMED_NS])
    for spec in ENTITIES.values():
        name = spec.conformed_table
        tables.create_table(tableBucketARN=arn, namespace=CONFORMED_NS, name=name,
                            format="ICEBERG")
        pointer = tables.get_table_metadata_location(tableBucketARN=arn,
                                                     namespace=CONFORMED_NS, name=name)
        warehouse = pointer["warehouseLocation"].removeprefix("s3://").rstrip("/")
        bucket, _, prefix = warehouse.partition("/")
        key = f"{prefix}/metadata/00000-{spec.conformed_table}.metadata.json".lstrip("/")
        metadata = engine.iceberg.load(CONFORMED_NS, spec.conformed_table).metadata
        s3.put_object(Bucket=bucket, Key=key, Body=metadata.model_dump_json().encode())
        tables.update_table_metadata_location(
            tableBucketARN=arn, namespace=CONFORMED_NS, name=name,
            versionToken=pointer["versionToken"], metadataLocation=f"s3://{bucket}/{key}")


# The principals of the state machine's tasks (the Lambda handlers, and the Map's Athena tasks).
STEPS_FUNCTION = "ppstack.pipeline.aws_handler.step"
SYNC_FUNCTION = "ppstack.pipeline.aws_handler.sync"
STATE_MACHINE = "StateMachine"


def run_state_machine(aws: EmulatedAws, event: dict[str, Any],
                      acting_as: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """One execution of the state machine (infra/ppstack_infra/pipeline.py): Prepare, then per
    step the Map of Athena ``.sync`` tasks over the shipped statements and the Lambda after it,
    then the sync function until it is done. State passes through JSON, as in Step Functions.
    ``acting_as(principal)`` is entered around each task (the IAM test records who calls)."""
    import json

    from ppstack.pipeline import aws_handler
    from ppstack.pipeline.batch import Statement

    role = acting_as or (lambda _p: contextlib.nullcontext())

    def task(principal: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with role(principal):
            return dict(json.loads(json.dumps(call())))

    state = task(STEPS_FUNCTION, lambda: aws_handler.step({"action": "prepare", "state": event}))
    if not state.get("ready"):
        return state
    for step in ("stage", "close", "insert"):
        ids = []
        for item in state["sql"]:
            statement = Statement.from_state(item)
            request = {"QueryString": statement.sql, "WorkGroup": aws.settings.athena_workgroup,
                       "QueryExecutionContext": statement.context.to_api(),
                       "ResultConfiguration": {"OutputLocation": aws.settings.athena_output},
                       "ClientRequestToken": uuid.uuid4().hex}
            with role(STATE_MACHINE):
                run = aws.athena.start_query_execution(**request)
                aws.athena.get_query_execution(QueryExecutionId=run["QueryExecutionId"])
            ids.append({"QueryExecutionId": run["QueryExecutionId"]})
        state = {**state, "athena": {**state.get("athena", {}), step: ids}}
        current = state
        state = task(STEPS_FUNCTION, lambda: aws_handler.step(
            {"action": "advance", "step": step, "state": current}))  # noqa: B023
    while not state.get("sync_done"):
        current = state
        state = task(SYNC_FUNCTION, lambda: aws_handler.sync({"state": current}))  # noqa: B023
    return state
