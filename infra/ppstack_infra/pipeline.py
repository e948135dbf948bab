"""The batch pipeline on AWS: a Step Functions state machine that runs the Athena statements
(``startQueryExecution.sync``) and two small Lambdas for the work between them.

Why Step Functions: Athena DML may run up to hours, Lambda only 15 minutes; ``.sync`` waits
without code and gives Retry/Catch per statement.
ref: https://docs.aws.amazon.com/step-functions/latest/dg/connect-athena.html

Flow (state = small JSON built by ``ppstack.pipeline.aws_steps``; ``$.sql`` = the statements
of one step definition, each with its catalog and database)::

    Prepare (Lambda: lock, ledger, ships the stage statements) -> Ready? -no-> Done
                          | yes
    Stage (Map over $.sql, one Athena .sync at a time: DDL, CTAS staging, drop CTAS table, ...)
    -> Guard (Lambda: ledger staged, mass-delete guard, ships the close statements)
    -> Close (Map: the MERGE) -> RecordClosed (Lambda: ledger closed, ships the insert statements)
    -> Insert (Map: the INSERT) -> RecordInserted (Lambda: ledger inserted with the batch counts)
    -> Sync (Lambda with DynamoDB write access: one slice of the sync, checkpointed)
    -> Synced? -no-> Sync (again, from the checkpoint) | yes (ledger synced) -> Done
    any failure -> MarkFailed (Lambda: ledger failed, release lock) -> Failed

Started by EventBridge: S3 "Object Created" of a delivery's ``_manifest.json`` (written last by
the archive, e.g. by the scheduled fetch function of ``acquisition.py``) and a daily sweep.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ppstack.layout import CONFORMED_NS, RAW_NS, STAGING_NS
from ppstack.settings import ENV
from ppstack_infra.config import StackConfig
from ppstack_infra.serving import PYTHON_RUNTIME, Serving
from ppstack_infra.storage import Storage

ATHENA_SYNC = "athena:startQueryExecution.sync"
ATHENA_RETRY_ERRORS = ["Athena.TooManyRequestsException"]
# A sync invocation that could not finish one chunk because DynamoDB kept throttling raises
# ppstack.errors.Throttled; Step Functions names a Lambda error by its errorType, the Python
# exception's class name. ref: https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html
# ref: https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
SYNC_RETRY_ERRORS = ["Throttled"]

# Archive prefixes (ppstack.layout) by what the pipeline may do with them.
READ_PREFIXES = ("raw/", "raw_tabular/", "staging/", "staging_rejects/", "batches/", "locks/")
ATHENA_WRITE_PREFIXES = ("staging/", "staging_rejects/")
LEDGER_PREFIXES = ("batches/", "locks/")
SYNC_CHECKPOINT_PREFIX = "checkpoints/"  # the sliced sync's durable checkpoint (serving.slices)

# ppstack.layout.manifest_key: raw_tabular/<ENTITY>/<SOURCE>/<YYYY-MM-DD>/_manifest.json
MANIFEST_PATTERN = "raw_tabular/*/_manifest.json"

# DescribeTable: the sync checks the table is there before writing (serving.table.ensure_table).
DYNAMODB_SYNC_ACTIONS = [
    "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem",
    "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
]


class Pipeline(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StackConfig, storage: Storage,
                 serving: Serving, code: lambda_.Code,
                 layers: dict[str, lambda_.ILayerVersion]) -> None:
        super().__init__(scope, id)
        self.config = config
        self.layers = [layers["boto3"]]
        self.storage = storage
        self.serving = serving
        env = self.environment = self._environment()
        self.steps_fn = self._function("StepsFunction", "ppstack.pipeline.aws_handler.step",
                                       code, env, Duration.minutes(5))
        self.sync_fn = self._function("SyncFunction", "ppstack.pipeline.aws_handler.sync",
                                      code, env, Duration.minutes(15))
        for fn in (self.steps_fn, self.sync_fn):
            for statement in self.athena_statements(write=False) + self.ledger_statements():
                fn.add_to_role_policy(statement)
        # The spec check before each batch (pipeline.spec_check) commits the fingerprint field
        # list to the conformed table's Iceberg metadata (S3 Tables API + a metadata file in the
        # table's warehouse location) and, when a spec change is accepted, adds the new columns
        # (ALTER TABLE ADD COLUMNS through Athena updates the table's catalog entry).
        tb_arn = storage.table_bucket.attr_table_bucket_arn
        tables_catalog = f"s3tablescatalog/{config.table_bucket}"
        self.steps_fn.add_to_role_policy(iam.PolicyStatement(
            sid="ConformedSchemaEvolution",
            actions=["s3tables:PutTableData", "s3tables:UpdateTableMetadataLocation"],
            resources=[f"{tb_arn}/table/*"],
        ))
        self.steps_fn.add_to_role_policy(iam.PolicyStatement(
            sid="SchemaEvolutionCatalog",
            actions=["glue:UpdateTable"],
            resources=[self._arn("glue", f"table/{tables_catalog}/{CONFORMED_NS}/*"),
                       self._arn("glue", f"table/{STAGING_NS}/*")],
        ))
        self.sync_fn.add_to_role_policy(iam.PolicyStatement(
            sid="SyncServingTable",
            actions=DYNAMODB_SYNC_ACTIONS,
            resources=[serving.table.table_arn],
        ))
        self.sync_fn.add_to_role_policy(iam.PolicyStatement(
            sid="SyncCheckpoint",
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[storage.archive.arn_for_objects(SYNC_CHECKPOINT_PREFIX + "*")],
        ))
        self.state_machine = self._state_machine()
        self._triggers()

    # ---- functions ----------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        c = self.config
        return {
            ENV["backend"]: "aws",
            ENV["home"]: "/tmp/ppstack",  # the only writable path in Lambda
            ENV["bucket"]: self.storage.archive.bucket_name,
            ENV["table_bucket"]: c.table_bucket_name,
            ENV["dynamodb_table"]: self.serving.table.table_name,
            ENV["athena_workgroup"]: c.athena_workgroup,
            ENV["athena_output"]: self.storage.results_location,
            ENV["mass_delete_threshold"]: c.mass_delete_threshold,
            ENV["raw_retention_days"]: str(c.object_lock_days),
        }

    def _function(self, construct_id: str, handler: str, code: lambda_.Code,
                  env: dict[str, str], timeout: Duration) -> lambda_.Function:
        return lambda_.Function(
            self, construct_id,
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=code,
            memory_size=1024,
            timeout=timeout,
            layers=self.layers,
            environment=env,
            log_group=logs.LogGroup(self, f"{construct_id}Logs",
                                    retention=logs.RetentionDays.SIX_MONTHS,
                                    removal_policy=RemovalPolicy.DESTROY),
        )

    # ---- IAM ----------------------------------------------------------------------------------

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"

    def athena_statements(self, *, write: bool) -> list[iam.PolicyStatement]:
        """Least privilege for running ppstack's SQL in the workgroup.

        Athena runs a statement with the caller's permissions, so the caller needs Glue (the
        ``raw``/``staging`` databases and the federated ``s3tablescatalog``), S3 Tables data
        access, the source/target prefixes and the results bucket.
        ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
        """
        c = self.config
        archive = self.storage.archive
        results = self.storage.results
        tb_arn = self.storage.table_bucket.attr_table_bucket_arn
        s3tables_catalog = f"s3tablescatalog/{c.table_bucket_name}"
        glue_read = ["glue:GetCatalog", "glue:GetDatabase", "glue:GetDatabases", "glue:GetTable",
                     "glue:GetTables", "glue:GetPartition", "glue:GetPartitions",
                     "glue:BatchGetPartition"]
        glue_write = ["glue:CreateTable", "glue:DeleteTable", "glue:UpdateTable",
                      "glue:BatchCreatePartition"]
        s3tables_read = ["s3tables:GetTableBucket", "s3tables:GetNamespace", "s3tables:GetTable",
                         "s3tables:GetTableMetadataLocation", "s3tables:GetTableData"]
        s3tables_write = ["s3tables:PutTableData", "s3tables:UpdateTableMetadataLocation"]
        statements = [
            iam.PolicyStatement(
                sid="AthenaWorkgroup",
                actions=["athena:StartQueryExecution", "athena:StopQueryExecution",
                         "athena:GetQueryExecution", "athena:GetQueryResults",
                         "athena:GetWorkGroup"],
                resources=[self._arn("athena", f"workgroup/{c.athena_workgroup}")],
            ),
            iam.PolicyStatement(
                sid="AthenaCatalogs",
                actions=["athena:GetDataCatalog"],
                resources=[self._arn("athena", "datacatalog/AwsDataCatalog")],
            ),
            iam.PolicyStatement(
                sid="GlueCatalog",
                actions=glue_read + (glue_write if write else []),
                resources=[
                    self._arn("glue", "catalog"),
                    *(self._arn("glue", f"database/{db}") for db in (RAW_NS, STAGING_NS)),
                    *(self._arn("glue", f"table/{db}/*") for db in (RAW_NS, STAGING_NS)),
                    self._arn("glue", "catalog/s3tablescatalog"),
                    self._arn("glue", f"catalog/{s3tables_catalog}"),
                    self._arn("glue", f"database/{s3tables_catalog}/{CONFORMED_NS}"),
                    self._arn("glue", f"table/{s3tables_catalog}/{CONFORMED_NS}/*"),
                ],
            ),
            iam.PolicyStatement(
                sid="S3TablesData",
                actions=s3tables_read + (s3tables_write if write else []),
                resources=[tb_arn, f"{tb_arn}/table/*"],
            ),
            iam.PolicyStatement(
                sid="ArchiveList",
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[archive.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="ArchiveRead",
                actions=["s3:GetObject"],
                resources=[archive.arn_for_objects(p + "*") for p in READ_PREFIXES],
            ),
            iam.PolicyStatement(
                sid="AthenaResults",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                         "s3:ListMultipartUploadParts", "s3:ListBucket", "s3:GetBucketLocation"],
                resources=[results.bucket_arn, results.arn_for_objects("*")],
            ),
        ]
        if write:
            statements.append(iam.PolicyStatement(
                sid="StagingWrite",
                actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resources=[archive.arn_for_objects(p + "*") for p in ATHENA_WRITE_PREFIXES],
            ))
        return statements

    def ledger_statements(self) -> list[iam.PolicyStatement]:
        """Batch ledger and run locks: conditional puts; a lock is released by deleting it."""
        archive = self.storage.archive
        return [iam.PolicyStatement(
            sid="LedgerWrite",
            actions=["s3:PutObject", "s3:DeleteObject"],
            resources=[archive.arn_for_objects(p + "*") for p in LEDGER_PREFIXES],
        )]

    # ---- state machine ------------------------------------------------------------------------

    def _athena_map(self, id: str, step: str) -> sfn.Map:
        """The shipped statements of ``step`` (``$.sql``), one Athena ``.sync`` task at a time.

        Each statement carries its own execution context (catalog, database) from its step
        definition: Hive DDL cannot name a catalog, so a statement on the S3 Tables catalog gets
        it in ``QueryExecutionContext``. The query execution ids are collected in
        ``$.athena.<step>`` for the next Lambda (row counts, ledger).
        """
        statements = sfn.Map(
            self, id,
            items_path="$.sql",
            item_selector={"sql": sfn.JsonPath.string_at("$$.Map.Item.Value.sql"),
                           "catalog": sfn.JsonPath.string_at("$$.Map.Item.Value.catalog"),
                           "database": sfn.JsonPath.string_at("$$.Map.Item.Value.database")},
            max_concurrency=1,  # statements depend on each other: strictly in order
            result_path=f"$.athena.{step}",
        )
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": f"arn:{Aws.PARTITION}:states:::{ATHENA_SYNC}",
            "Parameters": {
                "QueryString.$": "$.sql",
                "WorkGroup": self.config.athena_workgroup,
                "QueryExecutionContext": {"Catalog.$": "$.catalog", "Database.$": "$.database"},
                "ResultConfiguration": {"OutputLocation": self.storage.results_location},
            },
            "ResultSelector": {"QueryExecutionId.$": "$.QueryExecution.QueryExecutionId"},
        }
        task = sfn.CustomState(self, f"{id}Statement", state_json=state)
        # Queued DML counts against the active-query quota: over it, Athena answers
        # TooManyRequestsException. ref: https://docs.aws.amazon.com/athena/latest/ug/service-limits.html
        task.add_retry(errors=ATHENA_RETRY_ERRORS, interval=Duration.seconds(15),
                       max_attempts=8, backoff_rate=2.0, max_delay=Duration.minutes(5))
        statements.item_processor(task)
        return statements

    def _step(self, id: str, action: str, **extra: Any) -> tasks.LambdaInvoke:
        payload = {"action": action, "state": sfn.JsonPath.entire_payload, **extra}
        return tasks.LambdaInvoke(
            self, id,
            lambda_function=self.steps_fn,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            result_path="$",
        )

    def _state_machine(self) -> sfn.StateMachine:
        failed = sfn.Fail(self, "Failed", cause="batch failed; see the ledger record",
                          error="PpstackBatchFailed")
        mark_failed = tasks.LambdaInvoke(
            self, "MarkFailed",
            lambda_function=self.steps_fn,
            payload=sfn.TaskInput.from_object({
                "action": "fail",
                "state": sfn.JsonPath.entire_payload,
                "error": sfn.JsonPath.object_at("$.error"),
            }),
            payload_response_only=True,
            result_path=sfn.JsonPath.DISCARD,
        ).next(failed)

        def guarded(state: Any) -> Any:
            state.add_catch(mark_failed, errors=["States.ALL"], result_path="$.error")
            return state

        # no catch on Prepare: nothing to mark before a batch exists
        prepare = self._step("Prepare", "prepare")
        done = sfn.Succeed(self, "Done")
        nothing = sfn.Succeed(self, "NothingToDo", comment="archive incomplete, locked or no batch")

        # Each Lambda in between advances the batch: the finished step's result into the ledger,
        # then the next step's check and statements (ppstack.pipeline.aws_steps.advance).
        stage_map = guarded(self._athena_map("Stage", "stage"))
        close = guarded(self._athena_map("Close", "close"))
        insert = guarded(self._athena_map("Insert", "insert"))
        guard = guarded(self._step("Guard", "advance", step="stage"))
        record_closed = guarded(self._step("RecordClosed", "advance", step="close"))
        record_inserted = guarded(self._step("RecordInserted", "advance", step="insert"))
        sync = guarded(tasks.LambdaInvoke(
            self, "Sync",
            lambda_function=self.sync_fn,
            payload=sfn.TaskInput.from_object({"state": sfn.JsonPath.entire_payload}),
            payload_response_only=True,
            result_path="$",
        ))
        # Throttling that outlasts a whole invocation's retries: wait 1, 2, 4, 8 then 10
        # minutes before the next slice (the checkpoint keeps what was done), then MarkFailed.
        sync.add_retry(errors=SYNC_RETRY_ERRORS, interval=Duration.minutes(1), max_attempts=5,
                       backoff_rate=2.0, max_delay=Duration.minutes(10))

        # The sync runs in slices that each end well inside the function's 15 minutes
        # (ppstack.serving.slices, checkpoint in the archive bucket); loop until done.
        synced = sfn.Choice(self, "Synced?")
        synced.when(sfn.Condition.and_(sfn.Condition.is_present("$.sync_done"),
                                       sfn.Condition.boolean_equals("$.sync_done", True)), done)
        synced.otherwise(sync)

        ready = sfn.Choice(self, "Ready?")
        ready.when(
            sfn.Condition.and_(sfn.Condition.is_present("$.ready"),
                               sfn.Condition.boolean_equals("$.ready", True)),
            stage_map.next(guard).next(close).next(record_closed).next(insert)
            .next(record_inserted).next(sync).next(synced),
        )
        ready.otherwise(nothing)

        role = iam.Role(self, "StateMachineRole",
                        assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
        for statement in self.athena_statements(write=True):
            role.add_to_policy(statement)

        machine = sfn.StateMachine(
            self, "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(prepare.next(ready)),
            role=role,
            timeout=Duration.hours(12),
            tracing_enabled=False,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(self, "StateMachineLogs",
                                          retention=logs.RetentionDays.SIX_MONTHS,
                                          removal_policy=RemovalPolicy.DESTROY),
                level=sfn.LogLevel.ERROR,
            ),
        )
        return machine

    # ---- triggers -----------------------------------------------------------------------------

    def _triggers(self) -> None:
        archive = self.storage.archive
        target = targets.SfnStateMachine(self.state_machine)
        # A delivery's manifest is written last (ppstack.raw.archive), so its creation means
        # the archive is complete; raw/ objects arrive before it and start nothing.
        # ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
        # ref: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
        events.Rule(
            self, "ManifestCreated",
            description="A delivery's archive manifest starts its batch run",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [archive.bucket_name]},
                    "object": {"key": [{"wildcard": MANIFEST_PATTERN}]},
                },
            ),
            targets=[target],
        )
        events.Rule(
            self, "DailyRun",
            description="Daily sweep for archived batches that have not run (or failed)",
            schedule=events.Schedule.expression(self.config.schedule),
            targets=[target],
        )
