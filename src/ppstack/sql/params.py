"""Template parameters derived from an entity spec and the active engine.

Every template of an entity gets the same base parameters, so a template can name any table or
column list without code knowing which template needs what. Batch-specific values (batch id,
dates, timestamp) are added by the step that runs the template.
"""

from __future__ import annotations

from ppstack.engine.base import SqlEngine
from ppstack.entities.spec import (
    DATE,
    EntitySpec,
    conformed_columns,
    staging_columns,
)
from ppstack.sql import literal

RAW_NS = "raw"
STAGING_NS = "staging"
CONFORMED_NS = "conformed"

# Athena DDL type names for spec column types.
ATHENA_TYPES = {"string": "string", "date": "date", "timestamp": "timestamp", "boolean": "boolean"}


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


def ddl_columns(columns: tuple, indent: int = 2) -> str:
    return (",\n" + " " * indent).join(f"{c.name} {ATHENA_TYPES[c.type]}" for c in columns)


def entity_params(spec: EntitySpec, engine: SqlEngine, bucket: str) -> dict[str, str]:
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
