"""Deployment configuration: names default to ``ppstack.settings`` so the code and the stack agree.

Every value can be overridden with CDK context (``cdk deploy -c ppstack:bucket=my-archive``);
``cdk.json`` repeats the defaults so they are visible in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aws_cdk import Aws

from ppstack.settings import SETTINGS

_DEFAULTS = {s.name: s.default for s in SETTINGS}

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC_DIR = REPO_ROOT / "src"
OPENAPI_PATH = SRC_DIR / "ppstack" / "api" / "openapi.yaml"

CONTEXT_PREFIX = "ppstack:"


@dataclass(frozen=True)
class StackConfig:
    # Bucket names are global across all AWS accounts: unless given, they are derived from the
    # account and region (``archive_bucket_name`` / ``table_bucket_name``), so two deployments
    # never collide. Point the CLI at them with PPSTACK_BUCKET / PPSTACK_TABLE_BUCKET (outputs).
    bucket: str = ""
    table_bucket: str = ""
    dynamodb_table: str = _DEFAULTS["dynamodb_table"]
    athena_workgroup: str = _DEFAULTS["athena_workgroup"]
    mass_delete_threshold: str = _DEFAULTS["mass_delete_threshold"]
    # Object Lock default retention (governance) for every new object version in the archive
    # bucket; 0 keeps Object Lock enabled without a default (raw/ is still protected by the
    # deny-delete policy and versioning).
    object_lock_days: int = 365  # governance retention of each raw/ and raw_tabular/ object
    # S3 Tables expire snapshots after 5 days by default, which would limit time travel to
    # 5 days; docs/data-rules.md#conformed-scd2 rule 7 asks for an explicit retention.
    # ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-maintenance.html
    snapshot_max_age_hours: int = 720
    min_snapshots_to_keep: int = 30
    results_expire_days: int = 30
    # "Override client-side settings" makes Athena refuse CTAS with external_location, which the
    # staging step needs; enable only if staging moves to the workgroup location.
    enforce_workgroup: bool = False
    schedule: str = "cron(0 6 * * ? *)"  # daily: fetch the publications (UTC)
    # Where ``layers.build_layer`` put the built layers; empty = placeholder (offline synth).
    layers_dir: str = ""
    openapi_path: str = str(OPENAPI_PATH)

    @property
    def archive_bucket_name(self) -> str:
        return self.bucket or f"ppstack-archive-{Aws.ACCOUNT_ID}-{Aws.REGION}"

    @property
    def table_bucket_name(self) -> str:
        return self.table_bucket or f"ppstack-tables-{Aws.ACCOUNT_ID}-{Aws.REGION}"

    @classmethod
    def from_context(cls, get: Any, **overrides: Any) -> StackConfig:
        """``get`` is ``node.try_get_context``; explicit overrides win over context."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = get(CONTEXT_PREFIX + f.name)
            if value is not None:
                values[f.name] = _coerce(f.type, value)
        values.update(overrides)
        return cls(**values)


def _coerce(type_name: object, value: Any) -> Any:
    if type_name in ("int", int):
        return int(value)
    if type_name in ("bool", bool):
        return value is True or str(value).lower() in ("1", "true", "yes")
    return str(value)
