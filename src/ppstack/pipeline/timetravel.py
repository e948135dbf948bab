"""Reading the conformed table as of a business date or a system time (docs/data-rules.md#conformed-scd2, rule 7).

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

from datetime import UTC, datetime

from ppstack.engine.base import SqlEngine
from ppstack.entities.spec import EntitySpec
from ppstack.errors import BadInput
from ppstack.layout import check_date
from ppstack.sql import render
from ppstack.sql.params import CONFORMED_NS


def in_force(table_sql: str, as_of_date: str, what: str = "--as-of") -> str:
    """The one definition of the business-time rule: a SELECT of the versions of ``table_sql``
    (an Athena table reference, possibly with a ``FOR ... AS OF`` clause) in force on
    ``as_of_date``, half-open ``active_from <= D < active_to`` (``scd2_as_of.sql``).

    ``as_of_business`` and ``ppstack query --as-of-date`` both read through it.
    """
    check_date(as_of_date, what)
    return render("scd2_as_of", {"conformed_table": table_sql, "as_of_date": f"DATE '{as_of_date}'"})


def as_of_business(spec: EntitySpec, engine: SqlEngine, as_of_date: str) -> str:
    """Every version in force on ``as_of_date`` (one per key that existed that day)."""
    return in_force(engine.table_ref(CONFORMED_NS, spec.conformed_table), as_of_date)


def as_of_snapshot(spec: EntitySpec, engine: SqlEngine, snapshot_id: int) -> str:
    """The whole table as committed by Iceberg snapshot ``snapshot_id``."""
    if not isinstance(snapshot_id, int) or snapshot_id < 0:
        raise BadInput(f"--snapshot must be a snapshot id (a positive integer), not {snapshot_id!r}")
    table = engine.table_ref(CONFORMED_NS, spec.conformed_table)
    return f"SELECT * FROM {table} FOR VERSION AS OF {snapshot_id}"


def system_time(instant: str, what: str = "--as-of-time") -> str:
    """The ``FOR TIMESTAMP AS OF`` clause for an ISO 8601 ``instant`` (no offset = UTC; an offset
    or ``Z`` is converted to UTC)."""
    try:
        moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise BadInput(f"{what} must be an ISO 8601 instant such as '2025-01-03 06:00:00' (UTC), "
                       f"not {instant!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # Trino/Athena time travel takes a timestamp WITH time zone: say UTC explicitly.
    # ref: https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-time-travel-and-version-travel-queries.html
    return f"FOR TIMESTAMP AS OF TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S.%f} UTC'"


def as_of_time(spec: EntitySpec, engine: SqlEngine, instant: str) -> str:
    """The whole table as it was at UTC ``instant`` (``YYYY-MM-DD HH:MM:SS[.ffffff]``)."""
    table = engine.table_ref(CONFORMED_NS, spec.conformed_table)
    return f"SELECT * FROM {table} {system_time(instant)}"
