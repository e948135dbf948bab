"""Settings: one table of names, environment variables, defaults and help.

Nothing is read at import time. ``load_settings()`` reads the environment when called, and CLI
flags override it. The CDK app (``infra/``) imports ``ENV`` names from here so the Lambda
environment and this table never drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ppstack.errors import BadInput


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("backend", "PPSTACK_BACKEND", "local", "local (DuckDB + pyiceberg + dynalite) or aws"),
    Setting("home", "PPSTACK_HOME", ".ppstack",
            "local state: object store, warehouse, DynamoDB files"),
    Setting("bucket", "PPSTACK_BUCKET", "pp-archive",
            "archive bucket (raw/, raw_tabular/, staging/, batches/)"),
    Setting("table_bucket", "PPSTACK_TABLE_BUCKET", "pp-tables",
            "S3 table bucket holding namespace 'conformed'"),
    Setting("dynamodb_table", "PPSTACK_DYNAMODB_TABLE", "pp-dw-entities", "DynamoDB serving table"),
    Setting("dynamodb_endpoint", "PPSTACK_DYNAMODB_ENDPOINT", "",
            "DynamoDB endpoint URL; empty = local dynalite (local) or AWS (aws)"),
    Setting("dynamodb_port", "PPSTACK_DYNAMODB_PORT", "8765",
            "port of the local dynalite server (0 = any free port)"),
    Setting("region", "AWS_DEFAULT_REGION", "us-east-1", "AWS region"),
    Setting("athena_workgroup", "PPSTACK_ATHENA_WORKGROUP", "ppstack",
            "Athena workgroup (engine v3, no workgroup KMS)"),
    Setting("athena_output", "PPSTACK_ATHENA_OUTPUT", "",
            "Athena result location; empty = s3://<bucket>/athena-results/"),
    Setting("mass_delete_threshold", "PPSTACK_MASS_DELETE_THRESHOLD", "0.05",
            "largest share of current keys one batch may close as disappeared"),
    Setting("raw_retention_days", "PPSTACK_RAW_RETENTION_DAYS", "365",
            "Object Lock days on each archived raw/, raw_tabular/ object on S3; 0 = none"),
    Setting("lock_stale_seconds", "PPSTACK_LOCK_STALE_SECONDS", "3600",
            "age after which a run lock is taken over"),
)

ENV = {s.name: s.env for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    backend: str
    home: str
    bucket: str
    table_bucket: str
    dynamodb_table: str
    dynamodb_endpoint: str
    dynamodb_port: str
    region: str
    athena_workgroup: str
    athena_output: str
    mass_delete_threshold: str
    raw_retention_days: str
    lock_stale_seconds: str

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser().resolve()

    @property
    def mass_delete_share(self) -> float:
        return float(self.mass_delete_threshold)

    @property
    def raw_retention(self) -> int:
        return int(self.raw_retention_days)

    @property
    def lock_stale(self) -> float:
        return float(self.lock_stale_seconds)

    def with_(self, **changes: str) -> Settings:
        return replace(self, **changes)


def load_settings(**overrides: str | None) -> Settings:
    """Environment first, then explicit overrides (CLI flags); ``None`` overrides are ignored."""
    values = {s.name: os.environ.get(s.env, s.default) for s in SETTINGS}
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(values) - {f.name for f in fields(Settings)}
    if unknown:
        raise BadInput(f"unknown setting(s): {', '.join(sorted(unknown))}")
    if values["backend"] not in ("local", "aws"):
        raise BadInput(f"--backend must be 'local' or 'aws', not {values['backend']!r}")
    try:
        share = float(values["mass_delete_threshold"])
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise BadInput(
            "mass delete threshold must be a share between 0 and 1, "
            f"not {values['mass_delete_threshold']!r}"
        )
    if not str(values["raw_retention_days"]).isdigit():
        raise BadInput(f"raw retention must be a whole number of days, not "
                       f"{values['raw_retention_days']!r}")
    return Settings(**values)  # type: ignore[arg-type]
