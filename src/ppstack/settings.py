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


# One row a setting: its name, its default ("-" for empty) and what it is for. Each is read from
# the environment variable PPSTACK_<NAME>, except where _ENV_NAMES says otherwise.
_TABLE = """
backend                local           local (DuckDB + pyiceberg + dynalite) or aws
home                   .ppstack        local state: object store, warehouse, DynamoDB files
bucket                 pp-archive      archive bucket (raw/, raw_tabular/, staging/, batches/)
table_bucket           pp-tables       S3 table bucket holding namespace 'conformed'
dynamodb_table         pp-dw-entities  DynamoDB serving table
dynamodb_endpoint      -               DynamoDB endpoint URL; empty: dynalite (local) or AWS
dynamodb_port          8765            port of the local dynalite server (0 = any free port)
region                 us-east-1       AWS region
athena_workgroup       ppstack         Athena workgroup (engine v3, no workgroup KMS)
athena_output          -               Athena result location; empty: s3://<bucket>/athena-results/
mass_delete_threshold  0.05            largest share of current keys a batch may close as gone
raw_retention_days     365             S3 Object Lock days of raw/, raw_tabular/ objects; 0 = none
lock_stale_seconds     3600            age after which a run lock is taken over
duckdb_memory_limit    500MB           memory DuckDB uses before it spills to <home>/tmp
"""
# The settings whose environment variable is not PPSTACK_<NAME>: the AWS SDK's own.
_ENV_NAMES = {"region": "AWS_DEFAULT_REGION"}


def _row(line: str) -> Setting:
    name, default, help_ = line.split(maxsplit=2)
    return Setting(name, _ENV_NAMES.get(name, f"PPSTACK_{name.upper()}"),
                   "" if default == "-" else default, help_)


SETTINGS: tuple[Setting, ...] = tuple(_row(line) for line in _TABLE.strip().splitlines())

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
