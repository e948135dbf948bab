"""Layers 1-3 storage: the archive bucket, the Glue databases, the S3 table bucket with its
conformed tables, and the Athena workgroup (with its own results bucket)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3tables as s3tables
from constructs import Construct

from ppstack.entities import ENTITIES
from ppstack.entities.spec import conformed_columns
from ppstack.layout import CONFORMED_NS, RAW_NS, STAGING_NS
from ppstack.storage.s3 import RETAINED_PREFIXES  # the prefixes locked per object
from ppstack_infra.config import StackConfig

ATHENA_ENGINE_V3 = "Athena engine version 3"

# Prefixes of the archive bucket (ppstack.layout).
RAW_PREFIX = "raw/"


class Storage(Construct):
    """Everything the pipeline reads and writes, except DynamoDB."""

    def __init__(self, scope: Construct, id: str, *, config: StackConfig) -> None:
        super().__init__(scope, id)
        self.config = config
        self.archive = self._archive_bucket()
        self.results = self._results_bucket()
        archive_uri = f"s3://{config.archive_bucket_name}"
        self.raw_db = self._database(
            RAW_NS, f"{archive_uri}/raw_tabular/",
            "Raw renditions (Parquet, all strings); tables from DDL templates")
        self.staging_db = self._database(
            STAGING_NS, f"{archive_uri}/staging/",
            "Per-batch staging (append-only); tables from DDL templates")
        self.table_bucket = self._table_bucket()
        self.namespace = s3tables.CfnNamespace(
            self, "ConformedNamespace",
            namespace=CONFORMED_NS,
            table_bucket_arn=self.table_bucket.attr_table_bucket_arn,
        )
        self.conformed_tables = [self._conformed_table(spec) for spec in ENTITIES.values()]
        self.workgroup = self._workgroup()

    # ---- layer 1 ------------------------------------------------------------------------------

    def _archive_bucket(self) -> s3.Bucket:
        """Raw files are never mutated or deleted (spec layer 1); everything else in the bucket
        (staging output, ledger versions, run locks, sync checkpoints, fetch state) must stay
        deletable and expire. So the retention is per prefix, not a bucket default:

        - Object Lock is enabled (it needs versioning) without a default retention; ppstack's
          S3 store puts governance retention (PPSTACK_RAW_RETENTION_DAYS, set to
          ``object_lock_days`` in the Lambdas) on each object it writes under ``raw/`` and
          ``raw_tabular/``, and the bucket policy refuses a PutObject there without it.
          ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
          ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
        - an explicit Deny of DeleteObject / DeleteObjectVersion on ``raw/*`` for everyone
          (the root user can still replace the bucket policy; Object Lock is the real guarantee).
        - ppstack itself writes raw/ with ``If-None-Match: *`` only.
        - lifecycle rules per prefix (``_lifecycle``) drop what versioning would pile up.
        """
        c = self.config
        bucket = s3.Bucket(
            self, "ArchiveBucket",
            bucket_name=c.archive_bucket_name,
            versioned=True,
            object_lock_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            event_bridge_enabled=True,  # a delivery's manifest starts the pipeline
            lifecycle_rules=self._lifecycle(),
            removal_policy=RemovalPolicy.RETAIN,
        )
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="DenyDeleteRaw",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
            resources=[bucket.arn_for_objects(RAW_PREFIX + "*")],
        ))
        if c.object_lock_days > 0:
            # ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
            # (condition key s3:object-lock-mode)
            bucket.add_to_resource_policy(iam.PolicyStatement(
                sid="DenyUnlockedArchiveWrites",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(p + "*") for p in RETAINED_PREFIXES],
                conditions={"Null": {"s3:object-lock-mode": "true"}},
            ))
        return bucket

    def _lifecycle(self) -> list[s3.LifecycleRule]:
        """What each prefix keeps. Current objects of raw/, raw_tabular/, staging/ and batches/
        are kept; superseded versions and scratch objects expire."""
        def noncurrent(id: str, prefix: str, days: int, **extra: object) -> s3.LifecycleRule:
            return s3.LifecycleRule(id=id, prefix=prefix,
                                    noncurrent_version_expiration=Duration.days(days),
                                    **extra)  # type: ignore[arg-type]

        return [
            s3.LifecycleRule(id="AbortUploads",
                             abort_incomplete_multipart_upload_after=Duration.days(1)),
            # a released lock leaves a delete marker and the old version: drop both
            noncurrent("Locks", "locks/", 1, expired_object_delete_marker=True),
            # each state change of a batch record replaces it; keep the trail for 90 days
            noncurrent("LedgerVersions", "batches/", 90),
            noncurrent("Staging", "staging/", 1),
            noncurrent("StagingRejects", "staging_rejects/", 1),
            noncurrent("FetchState", "fetch/", 7),
            s3.LifecycleRule(id="Checkpoints", prefix="checkpoints/",
                             expiration=Duration.days(30),
                             noncurrent_version_expiration=Duration.days(1)),
            # results of a CLI run without PPSTACK_ATHENA_OUTPUT (the Lambdas use the results
            # bucket)
            s3.LifecycleRule(id="AthenaResults", prefix="athena-results/",
                             expiration=Duration.days(self.config.results_expire_days),
                             noncurrent_version_expiration=Duration.days(1)),
        ]

    def _results_bucket(self) -> s3.Bucket:
        """Athena query results are scratch output: kept out of the Object Lock bucket so they
        can expire (locked versions could not be removed before their retention ends)."""
        return s3.Bucket(
            self, "AthenaResultsBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(
                expiration=Duration.days(self.config.results_expire_days),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )],
            removal_policy=RemovalPolicy.RETAIN,
        )

    @property
    def results_location(self) -> str:
        return f"s3://{self.results.bucket_name}/athena-results/"

    # ---- Glue (raw, staging) ------------------------------------------------------------------

    def _database(self, name: str, location: str, description: str) -> glue.CfnDatabase:
        return glue.CfnDatabase(
            self, f"{name.capitalize()}Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=name, description=description, location_uri=location,
            ),
        )

    # ---- layer 3: S3 Tables -------------------------------------------------------------------

    def _table_bucket(self) -> s3tables.CfnTableBucket:
        """Maintenance is set explicitly rather than relying on defaults that may change.
        ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-table-buckets-maintenance.html
        """
        bucket = s3tables.CfnTableBucket(
            self, "TableBucket",
            table_bucket_name=self.config.table_bucket_name,
            encryption_configuration=s3tables.CfnTableBucket.EncryptionConfigurationProperty(
                sse_algorithm="AES256",
            ),
            unreferenced_file_removal=s3tables.CfnTableBucket.UnreferencedFileRemovalProperty(
                status="Enabled",
                # Files no snapshot references any more are removed after this many days;
                # they can only be unreferenced once their snapshots expired (see tables).
                unreferenced_days=3,
                noncurrent_days=10,
            ),
        )
        bucket.apply_removal_policy(RemovalPolicy.RETAIN)
        return bucket

    def _conformed_table(self, spec: object) -> s3tables.CfnTable:
        """``conformed.<entity>`` from the entity spec, with explicit snapshot retention.

        Defining the table here (instead of only in the bootstrap DDL) is the only way to set
        per-table snapshot management in CloudFormation; the bootstrap's
        ``CREATE TABLE IF NOT EXISTS`` then finds it. Changing the schema of an existing table
        requires replacement in CloudFormation, which fails on the existing name and leaves
        the table untouched (RETAIN): evolve columns with Athena ``ALTER TABLE ADD COLUMNS``.
        ref: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-s3tables-table-icebergmetadata.html
        """
        columns = conformed_columns(spec)  # type: ignore[arg-type]
        c = self.config
        table = s3tables.CfnTable(
            self, f"Conformed{spec.name.capitalize()}Table",  # type: ignore[attr-defined]
            table_bucket_arn=self.table_bucket.attr_table_bucket_arn,
            namespace=CONFORMED_NS,
            table_name=spec.conformed_table,  # type: ignore[attr-defined]
            open_table_format="ICEBERG",
            iceberg_metadata=s3tables.CfnTable.IcebergMetadataProperty(
                iceberg_schema=s3tables.CfnTable.IcebergSchemaProperty(
                    schema_field_list=[
                        s3tables.CfnTable.SchemaFieldProperty(name=col.name, type=col.type,
                                                              required=False)
                        for col in columns
                    ],
                ),
            ),
            snapshot_management=s3tables.CfnTable.SnapshotManagementProperty(
                status="enabled",
                max_snapshot_age_hours=c.snapshot_max_age_hours,
                min_snapshots_to_keep=c.min_snapshots_to_keep,
            ),
            compaction=s3tables.CfnTable.CompactionProperty(
                status="enabled", target_file_size_mb=512,
            ),
        )
        table.node.add_dependency(self.namespace)
        table.apply_removal_policy(RemovalPolicy.RETAIN)
        return table

    # ---- Athena -------------------------------------------------------------------------------

    def _workgroup(self) -> athena.CfnWorkGroup:
        """Engine v3 (MERGE on Iceberg needs it) and SSE_S3 results: a workgroup with SSE-KMS or
        CSE-KMS cannot run INSERT/UPDATE/DELETE/MERGE on S3 Tables.
        ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
        ref: https://docs.aws.amazon.com/athena/latest/ug/merge-into-statement.html

        The workgroup does *not* override client-side settings by default: with an enforced
        result location Athena fails every CTAS that names ``external_location``, and the staging
        CTAS must write ``s3://<bucket>/staging/<ENTITY>/<batch>/`` (docs/data-rules.md#staging).
        Clients (AthenaEngine, the state machine) pass this result location explicitly.
        ref: https://docs.aws.amazon.com/athena/latest/ug/considerations-ctas.html
        """
        return athena.CfnWorkGroup(
            self, "Workgroup",
            name=self.config.athena_workgroup,
            description="ppstack pipeline: staging CTAS, conformed MERGE/INSERT, queries",
            state="ENABLED",
            recursive_delete_option=False,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=self.config.enforce_workgroup,
                publish_cloud_watch_metrics_enabled=True,
                requester_pays_enabled=False,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version=ATHENA_ENGINE_V3,
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.results_location,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3",
                    ),
                ),
            ),
        )
