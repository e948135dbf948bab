"""Layers 4-5: the DynamoDB serving table, three read-only API Lambdas and the REST API that
API Gateway imports from the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ppstack.serving.table import PARTITION_KEY, SORT_KEY
from ppstack.settings import ENV
from ppstack_infra import openapi
from ppstack_infra.config import SRC_DIR, StackConfig

# Handlers import only boto3 + the standard library (docs/api.md); Lambda's Python
# runtime ships boto3, so the bundle is the package source alone.
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_12

# OpenAPI placeholder -> (construct id, handler). The API engineer's document names these.
API_FUNCTIONS: dict[str, tuple[str, str]] = {
    "GetDrugFunctionArn": ("GetDrugFunction", "ppstack.api.handlers.get_drug"),
    "GetDrugHistoryFunctionArn": ("GetDrugHistoryFunction",
                                  "ppstack.api.handlers.get_drug_history"),
    "SearchDrugFunctionArn": ("SearchDrugFunction", "ppstack.api.handlers.search_drug"),
    "ListDrugChangesFunctionArn": ("ListDrugChangesFunction",
                                   "ppstack.api.handlers.list_drug_changes"),
    "ListDrugBatchesFunctionArn": ("ListDrugBatchesFunction",
                                   "ppstack.api.handlers.list_drug_batches"),
    # GET / : the explorer page, packaged HTML returned by a handler like any other route
    "ExplorerPageFunctionArn": ("ExplorerPageFunction", "ppstack.api.handlers.explorer_page"),
}

# Everything the API reads with. Not ``grant_read_data``: that also grants Scan,
# ConditionCheckItem, DescribeTable and the stream reads, none of which a handler needs.
API_READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"]

# Files never shipped to Lambda: tests live outside src/, the rest is build noise or data the
# handlers do not read (the bundled sample is for `ppstack demo`).
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "*.egg-info", "ppstack.egg-info",
                  "ppstack/data", "**/tests", "**/test_*.py"]


def source_code() -> lambda_.Code:
    """The ``src/`` directory as one asset, shared by every function (same hash, one upload)."""
    return lambda_.Code.from_asset(str(SRC_DIR), exclude=ASSET_EXCLUDES)


class Serving(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StackConfig, code: lambda_.Code,
                 layers: list[lambda_.ILayerVersion]) -> None:
        super().__init__(scope, id)
        self.config = config
        self.layers = layers
        self.table = self._table()
        self.functions = {
            placeholder: self._api_function(construct_id, handler, code)
            for placeholder, (construct_id, handler) in API_FUNCTIONS.items()
        }
        self.api = self._rest_api(Path(config.openapi_path))

    def _table(self) -> dynamodb.Table:
        """One table, PK/SK strings, on-demand, PITR, deletion protection, no LSI/GSI
        (docs/data-rules.md#serving-dynamodb). Retained: it is a cache, but rebuilding it from the
        conformed tables takes a full sync, so deleting the stack must not drop it."""
        return dynamodb.Table(
            self, "EntitiesTable",
            table_name=self.config.dynamodb_table,
            partition_key=dynamodb.Attribute(name=PARTITION_KEY,
                                             type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True,
            ),
            deletion_protection=True,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _api_function(self, construct_id: str, handler: str,
                      code: lambda_.Code) -> lambda_.Function:
        fn = lambda_.Function(
            self, construct_id,
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=code,
            memory_size=256,
            layers=self.layers,
            timeout=Duration.seconds(10),
            environment={
                ENV["backend"]: "aws",
                ENV["dynamodb_table"]: self.table.table_name,
            },
            log_group=logs.LogGroup(self, f"{construct_id}Logs",
                                    retention=logs.RetentionDays.ONE_MONTH,
                                    removal_policy=RemovalPolicy.DESTROY),
        )
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ReadServingTable",
            actions=API_READ_ACTIONS,
            resources=[self.table.table_arn],
        ))
        return fn

    def _rest_api(self, path: Path) -> apigw.SpecRestApi:
        if not path.is_file():
            raise FileNotFoundError(
                f"OpenAPI document not found: {path}; the REST API is imported from it "
                "(override with -c ppstack:openapi_path=...)"
            )
        doc = openapi.load(path)
        routes = openapi.function_placeholders(doc)
        arns = {placeholder: fn.function_arn for placeholder, fn in self.functions.items()}
        body = openapi.substitute(doc, lambda text, variables: Fn.sub(text, variables), arns)
        api = apigw.SpecRestApi(
            self, "RestApi",
            rest_api_name="ppstack",
            description="ppstack read API (DynamoDB behind thin Lambdas)",
            api_definition=apigw.ApiDefinition.from_inline(body),
            endpoint_types=[apigw.EndpointType.REGIONAL],
            fail_on_warnings=True,
            cloud_watch_role=False,  # the account-level API Gateway logging role is not ours to own
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                throttling_rate_limit=100,
                throttling_burst_limit=200,
            ),
        )
        # API Gateway invokes each function with its own identity: one permission per route.
        for placeholder, used_by in routes.items():
            fn = self.functions[placeholder]
            for i, (route, method) in enumerate(used_by):
                fn.add_permission(
                    f"ApiInvoke{i}",
                    principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
                    source_arn=api.arn_for_execute_api(
                        method, openapi.execute_api_path(route), "*"),
                )
        return api
