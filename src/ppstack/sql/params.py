"""Template parameters derived from an entity spec and the active engine.

Every template of an entity gets the same base parameters, so a template can name any table or
column list without code knowing which template needs what. Batch-specific values (batch id,
dates, timestamp) are added by the step that runs the template.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol

from ppstack.entities.spec import (
    BIGINT,
    DATE,
    SOURCE_ROW_COLUMNS,
    STRING,
    TIMESTAMP,
    Column,
    EntitySpec,
    Member,
    Source,
    conformed_columns,
    staging_columns,
)
from ppstack.layout import (
    CONFORMED_NS,
    RAW_NS,
    STAGING_NS,
    batch_timestamp,
    check_batch_id,
    check_date,
    rendition_location_template,
    rendition_root,
    staged_location_template,
    staged_prefix,
    staged_root,
)
from ppstack.sql import hive_literal, literal

# Athena DDL type names for spec column types.
ATHENA_TYPES = {"string": "string", "date": "date", "timestamp": "timestamp", "boolean": "boolean",
                "bigint": "bigint"}


def fingerprint_expr(spec: EntitySpec, alias: str = "") -> str:
    """``lower(to_hex(md5(to_utf8(concat_ws('|', coalesce(f1, ''), ...)))))``.

    Every field is coalesced (Trino's concat_ws skips NULLs, which would shift positions);
    dates are cast to varchar, which is ``YYYY-MM-DD`` on Athena and DuckDB alike; to_hex is
    upper case on Athena, so lower() makes it equal Python's ``hexdigest()``.
    """
    prefix = f"{alias}." if alias else ""
    parts = []
    for col in spec.fields:
        ref = f"{prefix}{col.name}"
        if col.type != "string":
            ref = f"CAST({ref} AS varchar)"
        parts.append(f"coalesce({ref}, '')")
    joined = (",\n" + " " * 8).join(parts)
    return f"lower(to_hex(md5(to_utf8(concat_ws('|',\n        {joined})))))"


def column_list(names: list[str] | tuple[str, ...], alias: str = "", indent: int = 4) -> str:
    prefix = f"{alias}." if alias else ""
    return (",\n" + " " * indent).join(f"{prefix}{n}" for n in names)


def conformed_table_params(refs: object, name: str) -> dict[str, str]:
    """The parameters naming conformed table ``name`` (``refs``: an engine or ``TableRefs``):
    another table of the entity than its own, e.g. the one ``ppstack replay`` rebuilds."""
    return {"conformed_table": refs.table_ref(CONFORMED_NS, name),  # type: ignore[attr-defined]
            "conformed_table_name": name}


def ddl_name(name: str) -> str:
    """A column name as Athena DDL needs it: names that begin with '_' go in backticks.

    ref: https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html
    """
    return f"`{name}`" if name.startswith("_") else name


def ddl_columns(columns: tuple, indent: int = 2) -> str:
    return (",\n" + " " * indent).join(f"{ddl_name(c.name)} {ATHENA_TYPES[c.type]}"
                                        for c in columns)


class TableNamer(Protocol):
    """What ``entity_params`` needs of an engine: how SQL names a table
    (``SqlEngine.table_ref``)."""

    def table_ref(self, namespace: str, table: str) -> str: ...


def entity_params(spec: EntitySpec, engine: TableNamer, bucket: str) -> dict[str, str]:
    business = [c.name for c in spec.fields]
    date_fields = [c.name for c in spec.fields if c.type == DATE]
    params = {
        "entity": spec.name,
        "entity_literal": literal(spec.name),
        "entity_lower": spec.lname,
        "bucket": bucket,
        "key": spec.key,
        "raw_db": RAW_NS,
        "staging_db": STAGING_NS,
        "conformed_db": CONFORMED_NS,
        "staging_table": engine.table_ref(STAGING_NS, spec.staging_table),
        "rejects_table": engine.table_ref(STAGING_NS, spec.rejects_table),
        "conformed_table": engine.table_ref(CONFORMED_NS, spec.conformed_table),
        # DDL names the table inside its catalog; the catalog goes in the execution context.
        "conformed_table_name": spec.conformed_table,
        "business_columns": column_list(business),
        "business_columns_s": column_list(business, "s"),
        "staging_columns": column_list([c.name for c in staging_columns(spec)]),
        "conformed_columns": column_list([c.name for c in conformed_columns(spec)]),
        "staging_ddl_columns": ddl_columns(staging_columns(spec)),
        "conformed_ddl_columns": ddl_columns(conformed_columns(spec)),
        "fingerprint_expr": fingerprint_expr(spec),
        "date_fields": ", ".join(date_fields),
    }
    return params


# ---- layer 1-2 parameters (staging area; additive) ----------------------------------------------

# Rejected source rows of one batch (staging.<entity>_rejects), the same for every entity so one
# query can audit them all. ``reason_code`` is a short stable code (counted by ``stage``); the
# code ``duplicate`` marks rows that lost the within-batch de-duplication (counted as duplicates,
# not as rejects); ``reason`` is the human-readable explanation.
REJECT_COLUMNS: tuple[Column, ...] = (
    Column("reason_code", STRING, "stable code: no_product, bad_ndc, ..., duplicate"),
    Column("reason", STRING, "why the row was not staged, in words"),
    Column("source_member", STRING, "rendition member the row came from, e.g. package"),
    Column("source_file", STRING, "archived file name (_source_file of the rendition)"),
    Column("source_row", BIGINT, "1-based data row in that file (_source_row)"),
    Column("raw_value", STRING, "the identifying value exactly as published, e.g. NDCPACKAGECODE"),
    Column("entity_key", STRING, "normalised key when it could be derived, else NULL"),
    Column("source_file_date", DATE, "date the source published the file"),
    Column("ingestion_timestamp", TIMESTAMP, "UTC time of the run"),
    Column("ingestion_batch_id", STRING, "the batch (partition key of the stable table)"),
    Column("source_system", STRING, "source name, e.g. FDA_NDC"),
)

# The partition key of the stable staging tables; Glue DDL must not list it as a data column.
BATCH_PARTITION = "ingestion_batch_id"


def s3_uri(bucket: str, key: str) -> str:
    """``s3://<bucket>/<key>``: the form every location in a template takes (locally too)."""
    return f"s3://{bucket}/{key}"


def ctas_table_names(spec: EntitySpec, batch_id: str) -> tuple[str, str]:
    """Per-batch CTAS table names (batch, rejects): lower-case ``[a-z0-9_]`` as Glue requires."""
    suffix = re.sub(r"[^a-z0-9]+", "_", batch_id.lower()).strip("_")
    return f"{spec.lname}_batch_{suffix}", f"{spec.lname}_rejects_{suffix}"


def raw_member_tables(spec: EntitySpec, source: Source) -> dict[str, str]:
    """``raw_<member>_table`` -> ``raw.<entity>_<source>_<member>`` for every member of a source."""
    return {
        f"raw_{m.name}_table": f"{RAW_NS}.{spec.raw_table(source.name, m.name)}"
        for m in source.members
    }


def raw_table_params(spec: EntitySpec, source: Source, member: Member,
                     bucket: str) -> dict[str, str]:
    """Parameters of ``ddl_table_raw`` for one member: all-string columns + lineage columns."""
    columns = [Column(h.lower()) for h in member.columns]
    columns += list(SOURCE_ROW_COLUMNS)
    prefix = rendition_root(spec.name, source.name)
    return {
        "raw_db": RAW_NS,
        "raw_table": spec.raw_table(source.name, member.name),
        "raw_ddl_columns": ddl_columns(tuple(columns)),
        "raw_location": s3_uri(bucket, prefix),
        "raw_location_template": s3_uri(
            bucket, rendition_location_template(spec.name, source.name, member.name)
        ),
        "raw_comment": hive_literal(
            f"{spec.name} {source.name} '{member.name}' renditions (UTF-8 Parquet, all strings as "
            f"published); partition ingest_date = the date the source published the file"
        ),
    }


def staging_ddl_params(spec: EntitySpec, bucket: str) -> dict[str, str]:
    """Parameters of the stable staging DDL: columns minus the partition key, projection
    templates."""
    batch_cols = tuple(c for c in staging_columns(spec) if c.name != BATCH_PARTITION)
    reject_cols = tuple(c for c in REJECT_COLUMNS if c.name != BATCH_PARTITION)
    return {
        "staging_db": STAGING_NS,
        "staging_table_name": spec.staging_table,
        "rejects_table_name": spec.rejects_table,
        "staging_ddl_columns_no_partition": ddl_columns(batch_cols),
        "rejects_ddl_columns_no_partition": ddl_columns(reject_cols),
        "staging_root": s3_uri(bucket, staged_root(spec.name)),
        "rejects_root": s3_uri(bucket, staged_root(spec.name, "rejects")),
        "staging_location_template": s3_uri(bucket, staged_location_template(spec.name)),
        "rejects_location_template": s3_uri(bucket,
                                            staged_location_template(spec.name, "rejects")),
    }


def timestamp_literal(value: datetime) -> str:
    """``TIMESTAMP 'YYYY-MM-DD HH:MM:SS.mmm'`` (millisecond precision).

    Athena's Hive tables (staging is one) store timestamps with millisecond precision, and a CTAS
    of a ``timestamp(6)`` literal into a Hive table can fail on precision; the batch id keeps the
    microseconds. ref: https://docs.aws.amazon.com/athena/latest/ug/data-types.html
    """
    return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S')}.{value.microsecond // 1000:03d}'"


def batch_params(
    spec: EntitySpec, source: Source, ingest_date: str, batch_id: str, bucket: str
) -> dict[str, str]:
    """Values every per-batch template uses; dates and ids are validated here, then quoted."""
    check_date(ingest_date, "ingest date")
    check_batch_id(batch_id)
    ctas_table, rejects_ctas_table = ctas_table_names(spec, batch_id)
    params = {
        "batch_id": literal(batch_id),
        "ingest_date": literal(ingest_date),
        # The batch's business date E: the date the source published the delivery.
        "effective_date": f"DATE {literal(ingest_date)}",
        "file_date": f"DATE {literal(ingest_date)}",
        "ingestion_timestamp": timestamp_literal(batch_timestamp(batch_id)),
        "source_system": literal(source.name),
        "staging_ctas_table": ctas_table,
        "rejects_ctas_table": rejects_ctas_table,
        "staging_location": s3_uri(bucket, staged_prefix(spec.name, batch_id)),
        "rejects_location": s3_uri(bucket, staged_prefix(spec.name, batch_id, "rejects")),
    }
    params.update(raw_member_tables(spec, source))
    return params
