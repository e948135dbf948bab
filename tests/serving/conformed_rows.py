"""Test setup: put a known set of conformed rows into the real ``conformed.<entity>`` Iceberg table.

Serving reads conformed rows only through the SQL engine, so its tests give it the real one:
the runtime's ``LocalEngine`` (DuckDB + pyiceberg) over a real Iceberg table created by the
product's own DDL template (``pipeline.steps.ensure_conformed``). The rows come from the SCD2
reference model (``scd2_model``) and go in as one Athena ``INSERT INTO ... VALUES`` (one Iceberg
commit), the way the pipeline's insert step writes them.

A batch can close rows an earlier batch inserted, and those must change, not be duplicated; so
``load_conformed`` replaces the table's contents with the model's full row set each time
(``DROP TABLE IF EXISTS``, then create and insert).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from ppstack.backends import Runtime
from ppstack.entities.spec import EntitySpec, conformed_columns
from ppstack.layout import CONFORMED_NS
from ppstack.pipeline.ledger import BatchRecord, Ledger
from ppstack.pipeline.steps import ensure_conformed
from ppstack.sql import literal


def sql_value(value: Any) -> str:
    """An Athena literal for one Python value of a conformed row."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):  # before date: a datetime is a date
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S.%f}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return literal(value)
    raise TypeError(f"no Athena literal for {type(value).__name__}: {value!r}")


def insert_sql(spec: EntitySpec, table: str, rows: Iterable[Mapping[str, Any]]) -> str:
    """``INSERT INTO <table> (<conformed columns>) VALUES (...), ...`` for ``rows``."""
    names = [c.name for c in conformed_columns(spec)]
    values = ",\n  ".join("(" + ", ".join(sql_value(r.get(n)) for n in names) + ")" for r in rows)
    return f"INSERT INTO {table} ({', '.join(names)})\nVALUES\n  {values}"


def load_conformed(rt: Runtime, spec: EntitySpec, rows: list[dict[str, Any]],
                   batch_dates: dict[str, str] | None = None) -> None:
    """Make ``conformed.<entity>`` hold exactly ``rows``, through ``rt.engine``; record
    ``batch_dates`` (effective date -> batch id) in the batch ledger as the pipeline would."""
    ledger = Ledger(rt.store)
    known = {r.batch_id for r in ledger.list(spec.name)}
    for day, batch_id in (batch_dates or {}).items():
        if batch_id not in known:
            ledger.create(BatchRecord(entity=spec.name, source="FDA_NDC", ingest_date=day,
                                      batch_id=batch_id, state="synced", completed="synced"))
    table = rt.engine.table_ref(CONFORMED_NS, spec.conformed_table)
    rt.engine.execute(f"DROP TABLE IF EXISTS {table}")
    ensure_conformed(rt, spec)
    if rows:
        rt.engine.execute(insert_sql(spec, table, rows))
