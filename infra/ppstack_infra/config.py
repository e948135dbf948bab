"""Deployment configuration: names default to ``ppstack.settings`` so the code and the stack agree.

Every value can be overridden with CDK context (``cdk deploy -c ppstack:bucket=my-archive``);
``cdk.json`` repeats the defaults so they are visible in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ppstack.settings import SETTINGS

_DEFAULTS = {s.name: s.default for s in SETTINGS}

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC_DIR = REPO_ROOT / "src"
OPENAPI_PATH = SRC_DIR / "ppstack" / "api" / "openapi.yaml"

CONTEXT_PREFIX = "ppstack:"


@dataclass(frozen=True)
class StackConfig:
    bucket: str = _DEFAULTS["bucket"]
    table_bucket: str = _DEFAULTS["table_bucket"]
    dynamodb_table: str = _DEFAULTS["dynamodb_table"]
    athena_workgroup: str = _DEFAULTS["athena_workgroup"]
    mass_delete_threshold: str = _DEFAULTS["mass_delete_threshold"]
    # Object Lock default retention (governance) for every new object version in the archive
    # bucket; 0 keeps Object Lock enabled without a default (raw/ is still protected by the
    # deny-delete policy and versioning).
    object_lock_days: int = 365
    # S3 Tables expire snapshots after 5 days by default, which would limit time travel to
    # 5 days; docs/data-rules.md#conformed-scd2 rule 7 asks for an explicit retention.
    # ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-maintenance.html
    snapshot_max_age_hours: int = 720
    min_snapshots_to_keep: int = 30
    results_expire_days: int = 30
    # "Override client-side settings" makes Athena refuse CTAS with external_location, which the
    # staging step needs; enable only if staging moves to the workgroup location.
    enforce_workgroup: bool = False
    schedule: str = "cron(0 6 * * ? *)"
    openapi_path: str = str(OPENAPI_PATH)

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
