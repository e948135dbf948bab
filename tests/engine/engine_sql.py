"""Shared helpers for the local engine tests: the Athena parse check, Parquet files, DDL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot

from ppstack.engine.base import Result

Runner = Callable[[str], Result]


def parses_as_athena(sql: str) -> None:
    trees = [t for t in sqlglot.parse(sql, read="athena")
             if t is not None and not isinstance(t, sqlglot.exp.Semicolon)]
    assert len(trees) == 1, f"not one Athena statement: {sql}"


def write_parquet(directory: Path, name: str, columns: dict[str, list]) -> Path:
    """A Parquet file with the given columns (types inferred by Arrow)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    pq.write_table(pa.table(columns), path)
    return path


STAGING_DDL = """
CREATE EXTERNAL TABLE IF NOT EXISTS staging.item_batch (
  id string,
  name string,
  qty bigint,
  start_date date
)
PARTITIONED BY (ingestion_batch_id string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS PARQUET
LOCATION 's3://pp-archive/staging/ITEM/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.ingestion_batch_id.type' = 'injected',
  'storage.location.template' = 's3://pp-archive/staging/ITEM/${ingestion_batch_id}/'
);
"""

CONFORMED_DDL = """
CREATE TABLE IF NOT EXISTS conformed.item (
  id string,
  name string,
  active_from date,
  active_to date,
  is_current boolean,
  ingestion_timestamp timestamp,
  ingestion_batch_id string
)
TBLPROPERTIES ('table_type' = 'ICEBERG')
"""

BATCH_1 = "20250103T060012.123456Z"
BATCH_2 = "20250104T060012.123456Z"
