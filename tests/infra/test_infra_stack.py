"""The CDK stack, synthesized once per module (per xdist worker), checked with cfn-lint and
``aws_cdk.assertions``. Offline: no account, no region, no AWS credentials."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
cdk = pytest.importorskip("aws_cdk",
                          reason="aws-cdk-lib is not installed (pip install -e '.[dev]')")
from aws_cdk.assertions import Match, Template  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

from ppstack_infra import PpstackStack, StackConfig  # noqa: E402
from ppstack_infra import openapi as openapi_doc  # noqa: E402
from ppstack_infra.config import OPENAPI_PATH  # noqa: E402

from ppstack.entities import ENTITIES  # noqa: E402
from ppstack.entities.spec import conformed_columns  # noqa: E402
from ppstack.serving.table import PARTITION_KEY, SORT_KEY  # noqa: E402
from ppstack.settings import ENV  # noqa: E402

FIXTURE_OPENAPI = Path(__file__).parent / "fixtures" / "openapi.yaml"
DYNAMODB_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                   "dynamodb:BatchWriteItem", "dynamodb:*"}


def openapi_path() -> Path:
    """The API engineer's real document when it exists, else the fixture copy."""
    return OPENAPI_PATH if OPENAPI_PATH.is_file() else FIXTURE_OPENAPI


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("cdk")
    app = cdk.App(outdir=str(out / "cdk.out"))
    stack = PpstackStack(app, "PpstackTest",
                         config=StackConfig(openapi_path=str(openapi_path())))
    template = Template.from_stack(stack)
    data = template.to_json()
    path = out / "template.json"
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return {"template": template, "json": data, "path": path, "stack": stack}


@pytest.fixture(scope="module")
def template(synth: dict[str, Any]) -> Template:
    return synth["template"]


@pytest.fixture(scope="module")
def resources(synth: dict[str, Any]) -> dict[str, Any]:
    return synth["json"]["Resources"]


def _of_type(resources: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == type_}


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement.get("Action", [])
    return {action} if isinstance(action, str) else set(action)


def _role_statements(resources: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    found = []
    for policy in _of_type(resources, "AWS::IAM::Policy").values():
        roles = [r.get("Ref") for r in policy["Properties"].get("Roles", [])]
        if role_logical_id in roles:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def _function(resources: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    for key, fn in _of_type(resources, "AWS::Lambda::Function").items():
        if fn["Properties"].get("Handler") == handler:
            return key, fn
    raise AssertionError(f"no function with handler {handler}")


def _function_statements(resources: dict[str, Any], handler: str) -> list[dict[str, Any]]:
    _key, fn = _function(resources, handler)
    return _role_statements(resources, fn["Properties"]["Role"]["Fn::GetAtt"][0])


# ---- cfn-lint ---------------------------------------------------------------------------------

def test_template_cfn_lint_reports_no_errors(synth: dict[str, Any]) -> None:
    from cfnlint.api import ManualArgs, lint

    matches = lint(synth["path"].read_text(encoding="utf-8"),
                   config=ManualArgs(regions=["us-east-1"]))
    for m in matches:
        print(f"cfn-lint {m.rule.id}: {m.message}")
    errors = [f"{m.rule.id}: {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


# ---- DynamoDB ---------------------------------------------------------------------------------

def test_dynamodb_table_keys_are_pk_sk_strings(template: Template) -> None:
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "TableName": "pp-dw-entities",
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                      {"AttributeName": SORT_KEY, "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                                 {"AttributeName": SORT_KEY, "AttributeType": "S"}],
    })


def test_dynamodb_table_on_demand_pitr_and_deletion_protection(template: Template) -> None:
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": True,
    })


def test_dynamodb_table_has_no_secondary_indexes(resources: dict[str, Any]) -> None:
    (table,) = _of_type(resources, "AWS::DynamoDB::Table").values()
    assert "LocalSecondaryIndexes" not in table["Properties"]
    assert "GlobalSecondaryIndexes" not in table["Properties"]
    assert table["DeletionPolicy"] == "Retain"


# ---- archive bucket ---------------------------------------------------------------------------

def _archive(resources: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for key, bucket in _of_type(resources, "AWS::S3::Bucket").items():
        if bucket["Properties"].get("ObjectLockEnabled"):
            return key, bucket
    raise AssertionError("archive bucket (Object Lock) not found")


def _joined(value: Any) -> str:
    """A Fn::Join of strings and pseudo parameters as one string: ``x-${AWS::AccountId}``."""
    if isinstance(value, str):
        return value
    sep, parts = value["Fn::Join"]
    return sep.join(p if isinstance(p, str) else "${" + str(p.get("Ref", "X")) + "}"
                    for p in parts)


def _archive_policy(resources: dict[str, Any]) -> list[dict[str, Any]]:
    key, _ = _archive(resources)
    for policy in _of_type(resources, "AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": key}:
            return policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError("archive bucket has no policy")


def test_archive_bucket_versioning_and_object_lock(resources: dict[str, Any]) -> None:
    _, bucket = _archive(resources)
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["ObjectLockEnabled"] is True
    # No bucket-wide default: retention is set per object on raw/ and raw_tabular/ only, so
    # staging, ledger versions, locks and checkpoints are not locked for a year.
    assert "Rule" not in props.get("ObjectLockConfiguration", {})
    assert bucket["DeletionPolicy"] == "Retain"


def test_default_bucket_names_derive_from_account_and_region(resources: dict[str, Any]) -> None:
    _, bucket = _archive(resources)
    assert _joined(bucket["Properties"]["BucketName"]) == \
        "ppstack-archive-${AWS::AccountId}-${AWS::Region}"
    (table_bucket,) = _of_type(resources, "AWS::S3Tables::TableBucket").values()
    assert _joined(table_bucket["Properties"]["TableBucketName"]) == \
        "ppstack-tables-${AWS::AccountId}-${AWS::Region}"


def test_archive_policy_refuses_unlocked_writes_to_the_archive(resources: dict[str, Any]
                                                               ) -> None:
    (deny,) = [s for s in _archive_policy(resources)
               if s.get("Sid") == "DenyUnlockedArchiveWrites"]
    assert deny["Effect"] == "Deny" and _actions(deny) == {"s3:PutObject"}
    assert deny["Condition"] == {"Null": {"s3:object-lock-mode": "true"}}
    resource = json.dumps(deny["Resource"])
    assert "/raw/*" in resource and "/raw_tabular/*" in resource and "/staging" not in resource


def test_archive_lifecycle_expires_what_versioning_piles_up(resources: dict[str, Any]) -> None:
    _, bucket = _archive(resources)
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["Locks"]["Prefix"] == "locks/"
    assert rules["Locks"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert rules["Locks"]["ExpiredObjectDeleteMarker"] is True
    assert rules["Checkpoints"]["ExpirationInDays"] == 30
    assert rules["LedgerVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert "ExpirationInDays" not in rules["LedgerVersions"]  # current records stay
    # nothing expires the archive itself
    assert not [r for r in rules.values() if str(r.get("Prefix", "")).startswith("raw")]


def test_no_hard_coded_aws_partition(synth: dict[str, Any]) -> None:
    """Every ARN is built with ${AWS::Partition} (GovCloud, China): no literal 'arn:aws:'."""
    text = json.dumps(synth["json"])
    assert "arn:aws:" not in text.replace("arn:aws:cdk", "")


def test_archive_bucket_blocks_public_access_and_encrypts(resources: dict[str, Any]) -> None:
    _, bucket = _archive(resources)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_archive_bucket_policy_denies_delete_on_raw(resources: dict[str, Any]) -> None:
    key, _ = _archive(resources)
    denies = [s for s in _archive_policy(resources)
              if s["Effect"] == "Deny" and "s3:DeleteObject" in _actions(s)]
    assert len(denies) == 1
    deny = denies[0]
    assert _actions(deny) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}
    assert deny["Principal"] == {"AWS": "*"}
    resource = json.dumps(deny["Resource"])
    assert key in resource and "/raw/*" in resource


def test_archive_bucket_policy_denies_insecure_transport(resources: dict[str, Any]) -> None:
    tls = [s for s in _archive_policy(resources)
           if s["Effect"] == "Deny"
           and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
    assert tls and _actions(tls[0]) == {"s3:*"}


def test_archive_bucket_sends_events_to_eventbridge(template: Template) -> None:
    template.has_resource_properties("Custom::S3BucketNotifications", {
        "NotificationConfiguration": {"EventBridgeConfiguration": {}},
    })


# ---- API Lambdas and REST API -----------------------------------------------------------------

API_HANDLERS = ("ppstack.api.handlers.get_drug", "ppstack.api.handlers.get_drug_history",
                "ppstack.api.handlers.search_drug", "ppstack.api.handlers.list_drug_changes",
                "ppstack.api.handlers.list_drug_batches", "ppstack.api.handlers.explorer_page")


@pytest.mark.parametrize("handler", API_HANDLERS)
def test_api_function_runtime_and_environment(resources: dict[str, Any], handler: str) -> None:
    _, fn = _function(resources, handler)
    props = fn["Properties"]
    assert props["Runtime"] == "python3.12"
    env = props["Environment"]["Variables"]
    assert set(env) == {ENV["backend"], ENV["dynamodb_table"]}
    assert env[ENV["backend"]] == "aws"


@pytest.mark.parametrize("handler", API_HANDLERS)
def test_api_function_policy_has_no_dynamodb_write(resources: dict[str, Any], handler: str) -> None:
    statements = _function_statements(resources, handler)
    actions = set().union(*(_actions(s) for s in statements))
    assert not actions & DYNAMODB_WRITES
    dynamodb_actions = {a for a in actions if a.startswith("dynamodb:")}
    assert dynamodb_actions == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}


@pytest.mark.parametrize("handler", API_HANDLERS)
def test_api_function_reads_only_the_serving_table(resources: dict[str, Any], handler: str) -> None:
    (table_key,) = _of_type(resources, "AWS::DynamoDB::Table")
    for s in _function_statements(resources, handler):
        if any(a.startswith("dynamodb:") for a in _actions(s)):
            assert s["Resource"] == {"Fn::GetAtt": [table_key, "Arn"]}


def _paths_methods(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, method, _op in openapi_doc.operations(doc)}


def test_rest_api_paths_and_methods_equal_openapi(resources: dict[str, Any]) -> None:
    (api,) = _of_type(resources, "AWS::ApiGateway::RestApi").values()
    expected = _paths_methods(openapi_doc.load(openapi_path()))
    assert expected
    assert _paths_methods(api["Properties"]["Body"]) == expected


def test_rest_api_integrations_point_at_their_functions(resources: dict[str, Any]) -> None:
    (api,) = _of_type(resources, "AWS::ApiGateway::RestApi").values()
    functions = _of_type(resources, "AWS::Lambda::Function")
    for path, method, op in openapi_doc.operations(api["Properties"]["Body"]):
        integration = op[openapi_doc.INTEGRATION]
        if integration["type"] == "mock":
            assert method == "OPTIONS", (path, method)  # CORS preflight only
            continue
        assert integration["type"] == "aws_proxy", (path, method)
        assert integration["httpMethod"] == "POST"
        text, variables = integration["uri"]["Fn::Sub"]
        assert "${AWS::Region}" in text
        (placeholder, arn), = variables.items()
        assert "${" + placeholder + "}" in text
        assert arn["Fn::GetAtt"][0] in functions


def test_api_functions_may_be_invoked_by_api_gateway(resources: dict[str, Any]) -> None:
    permissions = _of_type(resources, "AWS::Lambda::Permission").values()
    api_permissions = [p for p in permissions
                       if p["Properties"]["Principal"] == "apigateway.amazonaws.com"]
    routes = openapi_doc.function_placeholders(openapi_doc.load(openapi_path()))
    assert len(api_permissions) == sum(len(used) for used in routes.values())
    invoked = {p["Properties"]["FunctionName"]["Fn::GetAtt"][0] for p in api_permissions}
    handlers = {_function(resources, h)[0] for h in API_HANDLERS}
    assert invoked == handlers


# ---- Athena, Glue, S3 Tables ------------------------------------------------------------------

def test_athena_workgroup_engine_v3_without_kms(resources: dict[str, Any]) -> None:
    (wg,) = _of_type(resources, "AWS::Athena::WorkGroup").values()
    config = wg["Properties"]["WorkGroupConfiguration"]
    assert wg["Properties"]["Name"] == "ppstack"
    assert config["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"
    result = config["ResultConfiguration"]
    assert result["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert "KmsKey" not in json.dumps(config)
    assert "CustomerContentEncryptionConfiguration" not in config
    assert config["RequesterPaysEnabled"] is False


def test_glue_databases_raw_and_staging(resources: dict[str, Any]) -> None:
    names = {db["Properties"]["DatabaseInput"]["Name"]
             for db in _of_type(resources, "AWS::Glue::Database").values()}
    assert names == {"raw", "staging"}


def test_s3_table_bucket_and_conformed_namespace(template: Template) -> None:
    template.has_resource_properties("AWS::S3Tables::TableBucket", {
        "UnreferencedFileRemoval": {"Status": "Enabled"},
    })
    template.has_resource_properties("AWS::S3Tables::Namespace", {
        "Namespace": "conformed",
        "TableBucketARN": {"Fn::GetAtt": [Match.any_value(), "TableBucketARN"]},
    })


def test_conformed_tables_follow_entity_specs(resources: dict[str, Any]) -> None:
    tables = {t["Properties"]["TableName"]: t["Properties"]
              for t in _of_type(resources, "AWS::S3Tables::Table").values()}
    assert set(tables) == {spec.conformed_table for spec in ENTITIES.values()}
    for spec in ENTITIES.values():
        props = tables[spec.conformed_table]
        fields = props["IcebergMetadata"]["IcebergSchema"]["SchemaFieldList"]
        assert [(f["Name"], f["Type"]) for f in fields] == [
            (c.name, c.type) for c in conformed_columns(spec)]
        assert all(f["Name"] == f["Name"].lower() for f in fields)
        assert props["Namespace"] == "conformed"
        assert props["OpenTableFormat"] == "ICEBERG"


def test_conformed_tables_set_snapshot_retention_explicitly(resources: dict[str, Any]) -> None:
    for table in _of_type(resources, "AWS::S3Tables::Table").values():
        snapshots = table["Properties"]["SnapshotManagement"]
        assert snapshots["Status"] == "enabled"
        assert snapshots["MaxSnapshotAgeHours"] == 720  # 30 days, not the 5-day default
        assert snapshots["MinSnapshotsToKeep"] >= 1
        assert table["DeletionPolicy"] == "Retain"


# ---- pipeline ---------------------------------------------------------------------------------

def _definition(resources: dict[str, Any]) -> dict[str, Any]:
    """The state machine's ASL with CloudFormation tokens replaced by placeholders."""
    (machine,) = _of_type(resources, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))


def test_state_machine_runs_stage_close_insert_as_athena_sync(resources: dict[str, Any]) -> None:
    """Each step's shipped statements run in order, each in the context its definition gives."""
    states = _definition(resources)["States"]
    for name in ("Stage", "Close", "Insert"):
        state = states[name]["ItemProcessor"]["States"][f"{name}Statement"]
        assert state["Resource"].endswith(":states:::athena:startQueryExecution.sync")
        assert state["Parameters"]["QueryString.$"] == "$.sql"
        assert state["Parameters"]["QueryExecutionContext"] == {"Catalog.$": "$.catalog",
                                                                "Database.$": "$.database"}
        assert state["Parameters"]["WorkGroup"] == "ppstack"
        assert any("Athena.TooManyRequestsException" in r["ErrorEquals"] for r in state["Retry"])
        assert states[name]["ItemsPath"] == "$.sql" and states[name]["MaxConcurrency"] == 1
        assert states[name]["ResultPath"] == f"$.athena.{name.lower()}"
    for name, step in (("Guard", "stage"), ("RecordClosed", "close"), ("RecordInserted", "insert")):
        payload = states[name]["Parameters"]
        assert (payload["action"], payload["step"]) == ("advance", step)
    order = ["Stage", "Guard", "Close", "RecordClosed", "Insert", "RecordInserted", "Sync"]
    for current, following in zip(order, order[1:], strict=False):
        assert states[current]["Next"] == following


def test_state_machine_failures_are_recorded_then_fail(resources: dict[str, Any]) -> None:
    states = _definition(resources)["States"]
    for name in ("Stage", "Guard", "Close", "RecordClosed", "Insert", "RecordInserted", "Sync"):
        assert states[name]["Catch"][0]["Next"] == "MarkFailed", name
    assert states["MarkFailed"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"


def test_state_machine_athena_access_is_scoped_to_workgroup(resources: dict[str, Any]) -> None:
    (machine,) = _of_type(resources, "AWS::StepFunctions::StateMachine").values()
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = _role_statements(resources, role)
    athena = [s for s in statements if "athena:StartQueryExecution" in _actions(s)]
    assert len(athena) == 1
    assert "workgroup/ppstack" in json.dumps(athena[0]["Resource"])
    # Only CloudWatch Logs delivery (state machine logging) needs "*": those APIs have no
    # resource-level permissions.
    wildcard = set().union(set(), *(_actions(s) for s in statements if s["Resource"] == "*"))
    assert all(a.startswith("logs:") for a in wildcard)
    assert not set().union(*(_actions(s) for s in statements)) & DYNAMODB_WRITES


def test_only_the_sync_function_writes_dynamodb(resources: dict[str, Any]) -> None:
    writers = set()
    for fn in _of_type(resources, "AWS::Lambda::Function").values():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        actions = set().union(set(), *(_actions(s) for s in _role_statements(resources, role)))
        if actions & DYNAMODB_WRITES:
            writers.add(fn["Properties"]["Handler"])
    assert writers == {"ppstack.pipeline.aws_handler.sync"}


def test_pipeline_functions_cannot_delete_raw(resources: dict[str, Any]) -> None:
    for handler in ("ppstack.pipeline.aws_handler.step", "ppstack.pipeline.aws_handler.sync"):
        for s in _function_statements(resources, handler):
            if _actions(s) & {"s3:DeleteObject", "s3:PutObject"}:
                assert "/raw/" not in json.dumps(s["Resource"]), handler


def test_manifest_created_rule_starts_the_pipeline(resources: dict[str, Any]) -> None:
    """Only a delivery's manifest (written last) starts a run, never its raw/ objects."""
    patterns = [r["Properties"]["EventPattern"] for r in _of_type(resources, "AWS::Events::Rule")
                .values() if "EventPattern" in r["Properties"]]
    keys = [p["detail"]["object"]["key"] for p in patterns if p.get("source") == ["aws.s3"]]
    assert keys == [[{"wildcard": "raw_tabular/*/_manifest.json"}]]
    (machine,) = _of_type(resources, "AWS::StepFunctions::StateMachine")
    (rule,) = [r for r in _of_type(resources, "AWS::Events::Rule").values()
               if "EventPattern" in r["Properties"]]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": machine}


def test_daily_schedule_fetches_and_sweeps(resources: dict[str, Any]) -> None:
    scheduled = [r["Properties"] for r in _of_type(resources, "AWS::Events::Rule").values()
                 if r["Properties"].get("ScheduleExpression") == "cron(0 6 * * ? *)"]
    functions = _of_type(resources, "AWS::Lambda::Function")
    fetch = [k for k, f in functions.items()
             if f["Properties"]["Handler"] == "ppstack.raw.fetch_handler.handler"]
    targets = [t["Arn"] for p in scheduled for t in p["Targets"]]
    assert {"Fn::GetAtt": [fetch[0], "Arn"]} in targets
    machines = list(_of_type(resources, "AWS::StepFunctions::StateMachine"))
    assert {"Ref": machines[0]} in targets  # the sweep of unfinished batches


def test_fetch_function_writes_the_archive_but_never_deletes(resources: dict[str, Any]) -> None:
    functions = _of_type(resources, "AWS::Lambda::Function")
    (fetch,) = [f for f in functions.values()
                if f["Properties"]["Handler"] == "ppstack.raw.fetch_handler.handler"]
    role = fetch["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = set().union(*(_actions(s) for s in _role_statements(resources, role)))
    assert {"s3:PutObject", "s3:PutObjectRetention", "s3:GetBucketObjectLockConfiguration"} \
        <= actions
    assert not {a for a in actions if "Delete" in a or a.startswith("dynamodb:")}
    assert fetch["Properties"]["Timeout"] == 900


def test_every_function_gets_the_pinned_boto3_layer(resources: dict[str, Any]) -> None:
    layers = _of_type(resources, "AWS::Lambda::LayerVersion")
    boto3_layer = [k for k, v in layers.items() if "boto3==" in v["Properties"]["Description"]]
    assert len(boto3_layer) == 1
    from ppstack_infra.layers import pins

    assert pins(("boto3",))[0] in layers[boto3_layer[0]]["Properties"]["Description"]
    for key, fn in _of_type(resources, "AWS::Lambda::Function").items():
        if fn["Properties"].get("Handler", "").startswith("ppstack."):
            assert {"Ref": boto3_layer[0]} in fn["Properties"]["Layers"], key


def test_sync_loops_until_the_sliced_sync_is_done(resources: dict[str, Any]) -> None:
    (machine,) = _of_type(resources, "AWS::StepFunctions::StateMachine").values()
    definition = json.loads(_joined(machine["Properties"]["DefinitionString"]))
    choice = definition["States"]["Synced?"]
    assert choice["Default"] == "Sync"
    assert choice["Choices"][0]["Next"] == "Done"
    assert definition["States"]["Sync"]["Next"] == "Synced?"
    # sustained throttling that a whole invocation could not get past is retried, minutes apart
    from ppstack.errors import Throttled

    (retry,) = [r for r in definition["States"]["Sync"]["Retry"]
                if r["ErrorEquals"] == [Throttled.__name__]]
    assert retry["IntervalSeconds"] >= 60 and retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 3


# ---- config and OpenAPI helpers ---------------------------------------------------------------

def test_stack_config_reads_context_overrides() -> None:
    context = {"ppstack:bucket": "my-archive", "ppstack:object_lock_days": "30",
               "ppstack:enforce_workgroup": "true"}
    config = StackConfig.from_context(context.get)
    assert config.bucket == "my-archive"
    assert config.object_lock_days == 30
    assert config.enforce_workgroup is True
    assert config.dynamodb_table == "pp-dw-entities"


def test_openapi_substitute_unknown_function_is_refused() -> None:
    doc = {"paths": {"/x": {"get": {openapi_doc.INTEGRATION: {
        "uri": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
               "${NopeFunctionArn}/invocations"}}}}}
    with pytest.raises(ValueError, match="NopeFunctionArn"):
        openapi_doc.substitute(doc, lambda text, variables: text, {"GetDrugFunctionArn": "arn"})


def test_openapi_operation_without_lambda_integration_is_refused() -> None:
    doc = {"paths": {"/x": {"get": {openapi_doc.INTEGRATION: {"type": "aws_proxy", "uri": "x"}}}}}
    with pytest.raises(ValueError, match="GET /x"):
        openapi_doc.function_placeholders(doc)


def test_execute_api_path_wildcards_path_parameters() -> None:
    assert openapi_doc.execute_api_path("/drug/{ndc}/history") == "/drug/*/history"
