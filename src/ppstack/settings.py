"""Settings: one table of names, environment variables, defaults and help.

Nothing is read at import time. ``load_settings()`` reads the environment when called, and CLI
flags override it. The CDK app (``infra/``) imports ``ENV`` names from here so the Lambda
environment and this table never drift apart.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

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
    Setting("duckdb_memory_limit", "PPSTACK_DUCKDB_MEMORY_LIMIT", "500MB",
            "memory the local SQL engine (DuckDB) uses before it spills to <home>/tmp"),
)

ENV = {s.name: s.env for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The settings, each under its one name (the table above); numbers are parsed once, by
    ``load_settings`` / ``with_``."""

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
    mass_delete_threshold: float
    raw_retention_days: int
    lock_stale_seconds: float
    duckdb_memory_limit: str

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser().resolve()

    def with_(self, **changes: str | float) -> Settings:
        """A copy with some settings changed (given as text, like the environment, or typed)."""
        return replace(self, **_parsed({k: str(v) for k, v in changes.items()}))


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise BadInput(f"mass delete threshold must be a share between 0 and 1, not {text!r}")
    return share


def _days(text: str) -> int:
    if not text.isdigit():
        raise BadInput(f"raw retention must be a whole number of days, not {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadInput(f"lock stale seconds must be a number, not {text!r}") from None


def _memory(text: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text.strip(), re.I):
        raise BadInput(f"DuckDB memory limit must be an amount like 400MB or 2GB, not {text!r}")
    return text.strip()


# The settings that are numbers or amounts: text (environment, flags) -> value, BadInput when
# it is not one.
_PARSE = {"mass_delete_threshold": _share, "raw_retention_days": _days,
          "lock_stale_seconds": _seconds, "duckdb_memory_limit": _memory}


def _parsed(values: dict[str, str]) -> dict[str, Any]:
    unknown = set(values) - {f.name for f in fields(Settings)}
    if unknown:
        raise BadInput(f"unknown setting(s): {', '.join(sorted(unknown))}")
    if values.get("backend", "local") not in ("local", "aws"):
        raise BadInput(f"--backend must be 'local' or 'aws', not {values['backend']!r}")
    return {k: _PARSE[k](v) if k in _PARSE else v for k, v in values.items()}


def load_settings(**overrides: str | None) -> Settings:
    """Environment first, then explicit overrides (CLI flags); ``None`` overrides are ignored."""
    values = {s.name: os.environ.get(s.env, s.default) for s in SETTINGS}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**_parsed(values))
