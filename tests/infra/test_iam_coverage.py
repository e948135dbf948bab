"""Every AWS call each Lambda (and the state machine) makes is allowed by its role's policy.

The handlers run against the emulated account (``tests/aws_emulator.py``: moto and the Athena
stand-in), configured with the environment the synthesized template gives each function. Every
AWS API operation is recorded with the principal that makes it: boto3 calls through botocore's
``provide-client-params`` event (the operation and its parameters), Athena calls by the stand-in.
Each operation becomes the IAM actions and resource ARNs it needs, and each is checked against
the identity policy of that principal's role in the template (``iam_policy``), with the template's
expressions resolved to the test account and region.

Athena runs a statement with the caller's permissions, so a StartQueryExecution also needs what
Athena does on the caller's behalf (``athena_needs``):
- the result location: write and read the result, find the bucket's region;
  ref: https://docs.aws.amazon.com/athena/latest/ug/security-iam-athena.html
- Glue Data Catalog: GetTable / GetDatabase on every table a statement names and CreateTable /
  DeleteTable / UpdateTable for what it creates, drops or writes, each on the catalog, the
  database and the table ARN (a table's ancestors need the permission too);
  ref: https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html
- S3 objects under the locations it reads (GetObject, ListBucket) and writes (PutObject);
- S3 Tables through the ``s3tablescatalog`` federated catalog in IAM access-control mode (the
  mode the stack uses, no Lake Formation): Glue on the federated catalog's ARNs and s3tables
  data access on the table bucket and its tables (GetTableData, PutTableData,
  UpdateTableMetadataLocation, ...).
  ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
  ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-integrating-aws.html
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
cdk = pytest.importorskip("aws_cdk",
                          reason="aws-cdk-lib is not installed (pip install -e '.[dev]')")

import sqlglot  # noqa: E402
from iam_policy import Resolver, allowed, role_statements  # noqa: E402
from sqlglot import exp  # noqa: E402

from aws_emulator import (  # noqa: E402
    ACCOUNT,
    REGION,
    STATE_MACHINE,
    STEPS_FUNCTION,
    SYNC_FUNCTION,
    emulated_aws,
    run_state_machine,
    statement_types,
)
from deliveries import cut  # noqa: E402
from loopback_publisher import serving  # noqa: E402
from ppstack.api import handlers  # noqa: E402
from ppstack.backends import Runtime  # noqa: E402
from ppstack.engine.base import DEFAULT_CATALOG, QueryContext  # noqa: E402
from ppstack.entities import DRUG, SOURCES  # noqa: E402
from ppstack.pipeline import aws_handler  # noqa: E402
from ppstack.raw import fetch_handler  # noqa: E402
from ppstack.raw.archive import archive  # noqa: E402

INFRA = Path(__file__).resolve().parents[2] / "infra"
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

from ppstack_infra import PpstackStack, StackConfig  # noqa: E402

EVENTS = Path(__file__).resolve().parents[1] / "events"
FIXTURE_OPENAPI = Path(__file__).parent / "fixtures" / "openapi.yaml"
STEPS = STEPS_FUNCTION
SYNC = SYNC_FUNCTION
API = {"ppstack.api.handlers.get_drug": "get_drug",
       "ppstack.api.handlers.get_drug_history": "get_drug_history",
       "ppstack.api.handlers.search_drug": "search_drug"}
FETCH = "ppstack.raw.fetch_handler.handler"
P = "arn:aws"
WAREHOUSE_SUFFIX = "--table-s3"  # the bucket name of a table's warehouse location

Need = tuple[str, str]  # (IAM action, resource ARN)


# ---- the template ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from ppstack_infra.config import OPENAPI_PATH

    app = cdk.App()
    openapi = OPENAPI_PATH if OPENAPI_PATH.is_file() else FIXTURE_OPENAPI
    stack = PpstackStack(app, "PpstackTest", config=StackConfig(openapi_path=str(openapi)))
    from aws_cdk.assertions import Template

    return Template.from_stack(stack).to_json()


def principals(template: dict[str, Any]) -> dict[str, str]:
    """principal (a Lambda handler, or the state machine) -> its role's logical id."""
    out = {}
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and "Handler" in props:
            out[props["Handler"]] = props["Role"]["Fn::GetAtt"][0]
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            out[STATE_MACHINE] = props["RoleArn"]["Fn::GetAtt"][0]
    return out


def lambda_environment(template: dict[str, Any], handler: str,
                       resolver: Resolver) -> dict[str, str]:
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and props.get("Handler") == handler:
            return {k: str(v) for k, v in
                    resolver.resolve(props["Environment"]["Variables"]).items()}
    raise AssertionError(f"no function with handler {handler}")


# ---- recording ---------------------------------------------------------------------------------

class Calls:
    """Every AWS operation, with the principal making it."""

    def __init__(self) -> None:
        self.principal = "test setup"
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        self.calls.append((self.principal, service, operation, dict(params)))

    def hook(self, params: dict[str, Any], model: Any, **_kwargs: Any) -> None:
        self.record(model.service_model.endpoint_prefix, model.name, params)

    @contextlib.contextmanager
    def acting_as(self, principal: str) -> Iterator[None]:
        before, self.principal = self.principal, principal
        try:
            yield
        finally:
            self.principal = before


# ---- what each operation needs -----------------------------------------------------------------

class Needs:
    """IAM actions and resources of the recorded operations, in the test account."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.locations: dict[str, str] = {}  # db.table -> s3://bucket/prefix/ (from its DDL)

    def of(self, service: str, operation: str, params: dict[str, Any]) -> list[Need]:
        if service == "s3" and str(params.get("Bucket", "")).endswith(WAREHOUSE_SUFFIX):
            return self.table_data(operation)
        if service == "s3":
            return self.s3(operation, params)
        if service == "s3tables":
            table = f"{params['tableBucketARN']}/table/{params['namespace']}.{params['name']}"
            return [(f"s3tables:{operation}", table)]
        if (service, operation) == ("sts", "GetCallerIdentity"):
            return []  # no permission is required to call it
            # ref: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
        if service == "dynamodb":
            tables = [params["TableName"]] if "TableName" in params else list(
                params.get("RequestItems", {}))
            return [(f"dynamodb:{operation}", f"{P}:dynamodb:{REGION}:{ACCOUNT}:table/{t}")
                    for t in tables]
        if service == "athena":
            name = self.env["PPSTACK_ATHENA_WORKGROUP"]
            workgroup = f"{P}:athena:{REGION}:{ACCOUNT}:workgroup/{name}"
            needs = [(f"athena:{operation}", workgroup)]
            if operation == "StartQueryExecution":
                ctx = params.get("QueryExecutionContext") or {}
                needs += self.athena_needs(params["QueryString"], QueryContext(
                    ctx.get("Catalog", DEFAULT_CATALOG), ctx.get("Database")))
            return needs
        return [(f"{service}:{operation}", "*")]

    def table_data(self, operation: str) -> list[Need]:
        """S3 API calls on a table's warehouse location (the Iceberg metadata file the spec
        check reads and commits) are authorised as S3 Tables data access on the table.
        ref: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3tables.html
        """
        name = self.env["PPSTACK_TABLE_BUCKET"]
        table = f"{P}:s3tables:{REGION}:{ACCOUNT}:bucket/{name}/table/warehouse"
        action = {"GetObject": "s3tables:GetTableData", "HeadObject": "s3tables:GetTableData",
                  "PutObject": "s3tables:PutTableData"}[operation]
        return [(action, table)]

    @staticmethod
    def s3(operation: str, params: dict[str, Any]) -> list[Need]:
        bucket = params["Bucket"]
        obj = f"{P}:s3:::{bucket}/{params.get('Key', '')}"
        action = {"PutObject": "s3:PutObject", "GetObject": "s3:GetObject",
                  "HeadObject": "s3:GetObject", "DeleteObject": "s3:DeleteObject",
                  "ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket",
                  "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
                  }[operation]
        on_bucket = action in ("s3:ListBucket", "s3:GetBucketObjectLockConfiguration")
        needs = [(action, f"{P}:s3:::{bucket}" if on_bucket else obj)]
        if operation == "PutObject" and params.get("ObjectLockMode"):
            # ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
            needs.append(("s3:PutObjectRetention", obj))
        return needs

    def athena_needs(self, sql: str, context: QueryContext) -> list[Need]:
        """What Athena does with the caller's permissions to run ``sql`` (module docstring)."""
        bucket, _, prefix = self.env["PPSTACK_ATHENA_OUTPUT"][len("s3://"):].partition("/")
        needs: list[Need] = [
            ("s3:PutObject", f"{P}:s3:::{bucket}/{prefix}query.csv"),
            ("s3:GetObject", f"{P}:s3:::{bucket}/{prefix}query.csv"),
            ("s3:GetBucketLocation", f"{P}:s3:::{bucket}"),
            ("s3:ListBucket", f"{P}:s3:::{bucket}")]
        tree = sqlglot.parse_one(sql, read="athena")
        kind, sub = statement_types(sql)
        target = tree.this if isinstance(tree, (exp.Create, exp.Insert, exp.Merge, exp.Drop)) \
            else None
        target = target.this if isinstance(target, exp.Schema) else target
        for table in tree.find_all(exp.Table):
            if not table.db:
                continue
            catalog = table.catalog or context.catalog
            glue = self.glue_arns(catalog, table.db, table.name)
            needs += [("glue:GetTable", a) for a in glue]
            needs += [("glue:GetDatabase", a) for a in glue[:-1]]
            written = table == target and sub in ("INSERT", "MERGE")
            if catalog.startswith("s3tablescatalog/"):
                needs += self.s3tables(catalog, write=written)
                if written:
                    needs += [("glue:UpdateTable", a) for a in glue]
            elif table != target:
                needs += self.reads(f"{table.db}.{table.name}")
        if target is not None and isinstance(target, exp.Table) and kind == "DDL" or \
                sub == "CREATE_TABLE_AS_SELECT":
            assert isinstance(target, exp.Table)
            glue = self.glue_arns(target.catalog or context.catalog, target.db, target.name)
            action = "glue:DeleteTable" if isinstance(tree, exp.Drop) else "glue:CreateTable"
            needs += [(action, a) for a in glue]
            location = self.location_of(tree)
            if location:
                self.locations[f"{target.db}.{target.name}"] = location
                if sub == "CREATE_TABLE_AS_SELECT":
                    b, _, key = location[len("s3://"):].partition("/")
                    needs += [("s3:PutObject", f"{P}:s3:::{b}/{key}part-0.parquet"),
                              ("s3:ListBucket", f"{P}:s3:::{b}")]
        return needs

    @staticmethod
    def location_of(tree: exp.Expr) -> str | None:
        for prop in tree.find_all(exp.LocationProperty):
            return str(prop.this.name)
        for prop in tree.find_all(exp.Property):
            if prop.name.lower() == "external_location":
                return str(prop.args["value"].name)
        return None

    def reads(self, table: str) -> list[Need]:
        location = self.locations.get(table)
        if location is None:
            # not created yet (the spec check reads the staging table's columns before the
            # first stage step creates it): Athena fails the statement after glue:GetTable,
            # reading no S3 object
            return []
        bucket, _, key = location[len("s3://"):].partition("/")
        return [("s3:GetObject", f"{P}:s3:::{bucket}/{key}part-0.parquet"),
                ("s3:ListBucket", f"{P}:s3:::{bucket}")]

    @staticmethod
    def glue_arns(catalog: str, database: str, table: str) -> list[str]:
        """Catalog, database and table ARNs (the table's ancestors need the permission too)."""
        base = f"{P}:glue:{REGION}:{ACCOUNT}"
        if catalog == DEFAULT_CATALOG:
            return [f"{base}:catalog", f"{base}:database/{database}",
                    f"{base}:table/{database}/{table}"]
        return [f"{base}:catalog", f"{base}:catalog/s3tablescatalog", f"{base}:catalog/{catalog}",
                f"{base}:database/{catalog}/{database}",
                f"{base}:table/{catalog}/{database}/{table}"]

    @staticmethod
    def s3tables(catalog: str, *, write: bool) -> list[Need]:
        bucket = f"{P}:s3tables:{REGION}:{ACCOUNT}:bucket/{catalog.split('/', 1)[1]}"
        table = f"{bucket}/table/0a1b2c3d-table-id"
        needs = [("s3tables:GetTableBucket", bucket), ("s3tables:GetNamespace", bucket),
                 ("s3tables:GetTable", table), ("s3tables:GetTableMetadataLocation", table),
                 ("s3tables:GetTableData", table)]
        if write:
            needs += [("s3tables:PutTableData", table),
                      ("s3tables:UpdateTableMetadataLocation", table)]
        return needs


# ---- the run -----------------------------------------------------------------------------------

def fetch_as_the_lambda(calls: Calls, files: list[Path], day: str) -> None:
    """The Fetch function's handler, downloading ``files`` as one zip from a loopback server."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in files:
            z.write(f, f.name)
    with serving() as (publisher, url):
        publisher.body = buf.getvalue()
        with calls.acting_as(FETCH):
            out = fetch_handler.handler({"entity": "DRUG", "source": "FDA_NDC", "url": url,
                                         "ingest_date": day})
    assert [r["status"] for r in out["results"]] == ["archived"]


def run_everything(calls: Calls, aws: Any, sample_files: dict[str, Path], tmp: Path,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Two batches through the state machine, a failure, then the API: every principal."""
    from ppstack.settings import load_settings

    rt = Runtime(load_settings())
    monkeypatch.setattr(aws_handler, "_runtime", lambda: rt)  # one runtime per "process"
    days = [("2019-04-29", cut(sample_files, tmp / "d1", products=40)),
            ("2019-04-30", cut(sample_files, tmp / "d2", products=45, drop_packages=1,
                               rename=3))]
    for n, (day, files) in enumerate(days):
        if n == 0:  # the scheduled fetch function downloads and archives the first delivery
            fetch_as_the_lambda(calls, files, day)
        else:
            archive(rt, DRUG, SOURCES["FDA_NDC"], files, day)
        event = {"source": "aws.s3", "detail-type": "Object Created", "detail": {
            "bucket": {"name": rt.settings.bucket},
            "object": {"key": f"raw_tabular/DRUG/FDA_NDC/{day}/_manifest.json"}}}
        state = run_state_machine(aws, event, calls.acting_as)
        assert state["completed"] == "synced"
    # a failed execution: Prepare, then the Catch's MarkFailed records it and releases the lock
    archive(rt, DRUG, SOURCES["FDA_NDC"], cut(sample_files, tmp / "d3", products=45),
            "2019-05-01")
    with calls.acting_as(STEPS):
        state = aws_handler.step({"action": "prepare", "state": {
            "entity": "DRUG", "source": "FDA_NDC", "ingest_date": "2019-05-01"}})
        assert state["ready"]
        failed = aws_handler.step({"action": "fail", "state": state,
                                   "error": {"Error": "States.Timeout"}})
        assert failed["state"] == "failed"
    for handler, name in API.items():
        event = json.loads((EVENTS / f"{name}.json").read_text())
        with calls.acting_as(handler):
            assert getattr(handlers, name)(event, None)["statusCode"] == 200
    rt.close()


@pytest.mark.slow
def test_every_aws_call_is_allowed_by_its_role(template: dict[str, Any], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               sample_files: dict[str, Path]) -> None:
    import boto3

    resolver = Resolver(template, ACCOUNT, REGION)
    env = lambda_environment(template, STEPS, resolver)
    assert env == lambda_environment(template, SYNC, resolver)
    calls = Calls()
    with emulated_aws(tmp_path, monkeypatch, record=calls.record, names=env) as aws:
        # moto gives the context its own default session: every client created from here on
        # (the handlers' S3, DynamoDB) reports its operations
        boto3._get_default_session().events.register("provide-client-params", calls.hook)
        run_everything(calls, aws, sample_files, tmp_path, monkeypatch)

    roles = principals(template)
    needs = Needs(env)
    denied: list[str] = []
    checked = set()
    for principal, service, operation, params in calls.calls:
        if principal == "test setup":
            continue
        statements = role_statements(template, roles[principal], resolver)
        for action, resource in needs.of(service, operation, params):
            checked.add((principal, action))
            if not allowed(statements, action, resource):
                denied.append(f"{principal} may not {action} on {resource}")
    assert not sorted(set(denied)), "\n".join(sorted(set(denied)))
    # the run reached every principal and the operations that matter
    assert {p for p, _a in checked} == {STEPS, SYNC, STATE_MACHINE, FETCH, *API}
    assert env == lambda_environment(template, FETCH, resolver)
    for principal, action in ((STATE_MACHINE, "glue:CreateTable"),
                              (STATE_MACHINE, "s3tables:PutTableData"),
                              (SYNC, "dynamodb:BatchWriteItem"), (STEPS, "s3:PutObject"),
                              (FETCH, "s3:PutObject"),
                              (FETCH, "s3:GetBucketObjectLockConfiguration"),
                              (STEPS, "athena:StartQueryExecution")):
        assert (principal, action) in checked, (principal, action)
