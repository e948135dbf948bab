"""Reading the conformed table as of a business date or a system time (DESIGN.md "3." rule 7).

Two different clocks, two different mechanisms:

- Business time ("which version was in force on day D") is data: the SCD2 columns, read with the
  half-open rule ``active_from <= D < active_to`` (``scd2_as_of.sql``).
- System time ("what did the table contain at instant T / after commit N") is Iceberg snapshots,
  read with Athena's ``FOR TIMESTAMP AS OF`` / ``FOR VERSION AS OF``. S3 Tables expire snapshots
  (5 days by default), so system time reaches back only as far as the retention allows.
  ref: https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-table-data.html

Each function returns Athena SQL that the active engine runs (the local engine routes the AS OF
forms to pyiceberg), so ``ppstack query`` can print or run it unchanged.
"""

from __future__ import annotations

from datetime import datetime

from ppstack.engine.base import SqlEngine
from ppstack.entities.spec import EntitySpec
from ppstack.errors import BadInput
from ppstack.layout import check_date
from ppstack.sql import render
from ppstack.sql.params import CONFORMED_NS


def as_of_business(spec: EntitySpec, engine: SqlEngine, as_of_date: str) -> str:
    """Every version in force on ``as_of_date`` (one per key that existed that day)."""
    check_date(as_of_date, "--as-of")
    return render("scd2_as_of", {
        "conformed_table": engine.table_ref(CONFORMED_NS, spec.conformed_table),
        "as_of_date": f"DATE '{as_of_date}'",
    })


def as_of_snapshot(spec: EntitySpec, engine: SqlEngine, snapshot_id: int) -> str:
    """The whole table as committed by Iceberg snapshot ``snapshot_id``."""
    if not isinstance(snapshot_id, int) or snapshot_id < 0:
        raise BadInput(f"--snapshot must be a snapshot id (a positive integer), not {snapshot_id!r}")
    table = engine.table_ref(CONFORMED_NS, spec.conformed_table)
    return f"SELECT * FROM {table} FOR VERSION AS OF {snapshot_id}"


def as_of_time(spec: EntitySpec, engine: SqlEngine, instant: str) -> str:
    """The whole table as it was at UTC ``instant`` (``YYYY-MM-DD HH:MM:SS[.ffffff]``)."""
    try:
        parsed = datetime.fromisoformat(instant.replace("Z", ""))
    except ValueError:
        raise BadInput(f"--as-of-time must be 'YYYY-MM-DD HH:MM:SS' (UTC), not {instant!r}") from None
    table = engine.table_ref(CONFORMED_NS, spec.conformed_table)
    return (f"SELECT * FROM {table} "
            # Trino/Athena time travel takes a timestamp WITH time zone: say UTC explicitly.
            f"FOR TIMESTAMP AS OF TIMESTAMP '{parsed:%Y-%m-%d %H:%M:%S.%f} UTC'")
