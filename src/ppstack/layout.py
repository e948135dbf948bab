"""Where everything lives in the archive bucket (docs/data-rules.md#raw-archive, #staging and
docs/operations.md#the-daily-run), and how the local backend lays out the Parquet files there.

One function per prefix, so no other module builds a key by hand.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Literal

from ppstack.errors import BadInput

# The catalog namespaces: Glue databases raw and staging, the S3 Tables namespace conformed.
RAW_NS = "raw"
STAGING_NS = "staging"
CONFORMED_NS = "conformed"

# Rows per Parquet row group in every file the local backend writes (renditions, staging CTAS
# output, Iceberg data files). DuckDB writes and reads a file in parallel by row group, so a
# 180,000-row file in groups of 32,768 keeps both cores of a small machine busy where one or
# two large groups would not. Athena sizes its own files on AWS.
PARQUET_ROW_GROUP_ROWS = 32_768

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BATCH_ID = re.compile(r"^\d{8}T\d{6}\.\d{6}Z$")


def check_date(value: str, what: str = "--date") -> str:
    """``YYYY-MM-DD`` and a real calendar day, or BadInput."""
    if not _DATE.match(value or ""):
        raise BadInput(f"{what} must be YYYY-MM-DD, not {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{what} {value!r} is not a calendar date") from None
    return value


def check_batch_id(value: str) -> str:
    if not _BATCH_ID.match(value or ""):
        raise BadInput(
            f"ingestion_batch_id must look like 20250103T060012.123456Z, not {value!r}"
        )
    return value


def new_batch_id(now: datetime | None = None) -> str:
    """ISO 8601 basic UTC with microseconds: unique per run, sorts chronologically, no colons."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def batch_timestamp(batch_id: str) -> datetime:
    """The run's UTC instant encoded in the batch id (naive, UTC), used as ingestion_timestamp."""
    return datetime.strptime(check_batch_id(batch_id), "%Y%m%dT%H%M%S.%fZ")


def raw_prefix(entity: str, source: str, ingest_date: str) -> str:
    return f"raw/{entity}/{source}/{ingest_date}/"


def raw_key(entity: str, source: str, ingest_date: str, filename: str) -> str:
    return raw_prefix(entity, source, ingest_date) + filename


def rendition_root(entity: str, source: str) -> str:
    """Every rendition of a source, all dates (the raw tables' LOCATION)."""
    return f"raw_tabular/{entity}/{source}/"


def rendition_prefix(entity: str, source: str, ingest_date: str, member: str) -> str:
    return f"{rendition_root(entity, source)}{ingest_date}/{member}/"


def rendition_location_template(entity: str, source: str, member: str) -> str:
    """Partition projection template (Athena substitutes ``${ingest_date}``)."""
    return f"raw_tabular/{entity}/{source}/${{ingest_date}}/{member}/"


def manifest_key(entity: str, source: str, ingest_date: str) -> str:
    """The archive manifest: files, sha256, members; written once per ingest date."""
    return f"raw_tabular/{entity}/{source}/{ingest_date}/_manifest.json"


def archive_prefix(entity: str, source: str) -> str:
    """Every archived delivery (renditions and manifests) of one entity and source."""
    return f"raw_tabular/{entity}/{source}/"


def fetch_state_key(entity: str, source: str) -> str:
    """What ``ppstack fetch`` last saw at the source's URL (ETag, Last-Modified, sha256)."""
    return f"fetch/{entity}/{source}.json"


def sync_checkpoint_key(entity: str, batch_id: str) -> str:
    """How far the chunked DynamoDB sync of a batch got (AWS: one Lambda run per slice)."""
    return f"checkpoints/{entity}/{batch_id}/sync.json"


# What a staging step writes per batch, and the top folder each kind lives under: the batch CTAS
# (read through staging.<entity>_batch) and the rejects CTAS (staging.<entity>_rejects).
StagedOutput = Literal["batch", "rejects"]
STAGED_FOLDERS: dict[StagedOutput, str] = {"batch": "staging", "rejects": "staging_rejects"}


def staged_root(entity: str, output: StagedOutput = "batch") -> str:
    """Every batch's ``output`` ("batch" or "rejects") of an entity type: the stable staging
    table's LOCATION."""
    return f"{STAGED_FOLDERS[output]}/{entity}/"


def staged_prefix(entity: str, batch_id: str, output: StagedOutput = "batch") -> str:
    """One batch's CTAS folder for ``output``: a fresh, empty external_location per batch."""
    return f"{staged_root(entity, output)}{batch_id}/"


def staged_location_template(entity: str, output: StagedOutput = "batch") -> str:
    """Partition projection template (Athena substitutes ``${ingestion_batch_id}``)."""
    return staged_prefix(entity, "${ingestion_batch_id}", output)


def ledger_prefix(entity: str) -> str:
    """Every batch record of an entity type (the ledger: one JSON document per batch)."""
    return f"batches/{entity}/"


def ledger_key(entity: str, batch_id: str) -> str:
    """One batch's ledger record: its state, counts and timings, rewritten at each step."""
    return f"{ledger_prefix(entity)}{batch_id}.json"


def lock_key(entity: str) -> str:
    return f"locks/{entity}.lock"
