"""Daily acquisition on AWS: an EventBridge schedule invokes the "Fetch" function, which runs
``ppstack fetch`` for every source with a publisher URL (``ppstack.raw.fetch_handler``) into the
archive bucket. A new delivery's manifest then starts the pipeline (``pipeline.py``'s
``ManifestCreated`` rule): fetch -> archive -> stage -> close -> insert -> sync, with no step
started by hand. An unchanged publication archives nothing, so nothing runs.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ppstack_infra.config import StackConfig
from ppstack_infra.pipeline import Pipeline
from ppstack_infra.serving import PYTHON_RUNTIME
from ppstack_infra.storage import RETAINED_PREFIXES, Storage

FETCH_STATE_PREFIX = "fetch/"  # ppstack.layout.fetch_state_key


class Acquisition(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StackConfig, storage: Storage,
                 pipeline: Pipeline, code: lambda_.Code,
                 layers: dict[str, lambda_.ILayerVersion]) -> None:
        super().__init__(scope, id)
        # The archive writes Parquet renditions: pyarrow comes in its own layer, for this
        # function only (the API and pipeline functions stay boto3 + standard library).
        self.fetch_fn = lambda_.Function(
            self, "FetchFunction",
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="ppstack.raw.fetch_handler.handler",
            code=code,
            layers=[layers["boto3"], layers["archive"]],
            memory_size=2048,  # the whole delivery is parsed and rendered in memory
            timeout=Duration.minutes(15),
            environment=pipeline.environment,
            log_group=logs.LogGroup(self, "FetchFunctionLogs",
                                    retention=logs.RetentionDays.SIX_MONTHS,
                                    removal_policy=RemovalPolicy.DESTROY),
        )
        archive = storage.archive
        self.fetch_fn.add_to_role_policy(iam.PolicyStatement(
            sid="ArchiveList",
            actions=["s3:ListBucket", "s3:GetBucketObjectLockConfiguration"],
            resources=[archive.bucket_arn],
        ))
        prefixes = (*RETAINED_PREFIXES, FETCH_STATE_PREFIX)
        self.fetch_fn.add_to_role_policy(iam.PolicyStatement(
            sid="ArchiveWrite",
            # PutObjectRetention: the governance retention set on each archived object's put.
            actions=["s3:GetObject", "s3:PutObject", "s3:PutObjectRetention"],
            resources=[archive.arn_for_objects(p + "*") for p in prefixes],
        ))
        events.Rule(
            self, "DailyFetch",
            description="Download each source's publication; a new one starts its batch run",
            schedule=events.Schedule.expression(config.schedule),
            targets=[targets.LambdaFunction(self.fetch_fn, retry_attempts=2)],
        )
