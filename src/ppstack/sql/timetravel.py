"""Reading conformed tables as of a business date or a system time
(docs/data-rules.md#conformed-scd2,
rule 7): the SQL that does it, and the rewriting of a user's query that ``ppstack query
--as-of-date / --as-of-snapshot / --as-of-time`` applies.

Two different clocks, two different mechanisms:

- Business time ("which version was in force on day D") is data: the SCD2 columns, read with the
  half-open rule ``active_from <= D < active_to`` (``scd2_as_of.sql``).
- System time ("what did the table contain at instant T / after commit N") is Iceberg snapshots,
  read with Athena's ``FOR TIMESTAMP AS OF`` / ``FOR VERSION AS OF``. S3 Tables expire snapshots
  (5 days by default), so system time reaches back only as far as the retention allows.
  ref: https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-table-data.html

Everything returns Athena SQL that the active engine runs (the local engine routes the AS OF
forms to pyiceberg).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ppstack.errors import BadInput
from ppstack.layout import CONFORMED_NS, check_date
from ppstack.sql import literal, render


def in_force(table_sql: str, as_of_date: str, what: str = "--as-of") -> str:
    """The one definition of the business-time rule: a SELECT of the versions of ``table_sql``
    (an Athena table reference, possibly with a ``FOR ... AS OF`` clause) in force on
    ``as_of_date``, half-open ``active_from <= D < active_to`` (``scd2_as_of.sql``)."""
    check_date(as_of_date, what)
    return render("scd2_as_of", {"conformed_table": table_sql,
                                 "as_of_date": f"DATE {literal(as_of_date)}"})


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
    # Trino/Athena time travel takes a timestamp WITH time zone: say UTC explicitly. ref:
    # https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-time-travel-and-version-travel-queries.html
    return f"FOR TIMESTAMP AS OF TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S.%f} UTC'"


def version(snapshot_id: int, what: str = "--as-of-snapshot") -> str:
    """The ``FOR VERSION AS OF`` clause of an Iceberg snapshot id."""
    if isinstance(snapshot_id, bool) or not isinstance(snapshot_id, int) or snapshot_id < 0:
        raise BadInput(f"{what} must be a snapshot id (a positive integer), not {snapshot_id!r}")
    return f"FOR VERSION AS OF {snapshot_id}"


# ---- rewriting a user's query -------------------------------------------------------------

def _parse(sql: str) -> Any:
    import sqlglot

    try:
        return sqlglot.parse_one(sql, read="athena")
    except sqlglot.errors.ParseError as e:
        raise BadInput(f"cannot parse the query: {e}") from None


def pin_system_time(sql: str, clause: str) -> str:
    """Add a time-travel ``clause`` after every reference to a table of the conformed
    namespace."""
    import sqlglot
    from sqlglot import exp

    tree = _parse(sql)
    probe = sqlglot.parse_one(f"SELECT * FROM t {clause}", read="athena").find(exp.Table)
    assert probe is not None
    pinned_version = probe.args["version"]
    pinned = 0
    for table in tree.find_all(exp.Table):
        if table.db == CONFORMED_NS:
            table.set("version", pinned_version.copy())
            pinned += 1
    if not pinned:
        raise BadInput(f"time travel applies to {CONFORMED_NS}.<entity> tables; "
                       "the query reads none")
    return str(tree.sql(dialect="athena"))


def pin_business_time(sql: str, day: str) -> str:
    """Business time: replace every conformed table the query reads by the versions in force on
    ``day`` (``in_force``), as a subquery under the table's alias or name, so the rest of the
    query reads it unchanged.

    A ``FOR ... AS OF`` clause already on the table moves into the subquery: business time as
    of ``day``, as the system knew it then.
    """
    from sqlglot import exp

    check_date(day, "--as-of-date")
    tree = _parse(sql)
    tables = [t for t in tree.find_all(exp.Table) if t.db == CONFORMED_NS]
    if not tables:
        raise BadInput(f"--as-of-date applies to {CONFORMED_NS}.<entity> tables; "
                       "the query reads none")
    for table in tables:
        if not isinstance(table.parent, (exp.From, exp.Join)):
            raise BadInput(f"--as-of-date rewrites tables read in FROM / JOIN; "
                           f"{table.sql(dialect='athena')} is not one")
        bare = table.copy()
        bare.set("alias", None)
        inner = _parse(in_force(bare.sql(dialect="athena"), day, "--as-of-date"))
        for node in inner.walk():
            node.comments = None  # the template's header comment, not the user's query
        inner.find(exp.Table).replace(bare)
        alias = table.args.get("alias")
        if alias is None:
            alias = exp.TableAlias(this=exp.to_identifier(table.name))
        table.replace(exp.Subquery(this=inner, alias=alias.copy()))
    return str(tree.sql(dialect="athena"))


def as_of(sql: str, *, day: str | None = None, snapshot: int | None = None,
          instant: str | None = None) -> str:
    """``sql`` reading its conformed tables as of a snapshot or an instant (system time) and/or
    as of a business ``day``: what ``ppstack query --as-of-*`` runs. Snapshot and instant
    exclude each other."""
    if snapshot is not None and instant is not None:
        raise BadInput("give --as-of-snapshot or --as-of-time, not both")
    if snapshot is not None:
        sql = pin_system_time(sql, version(snapshot))
    if instant is not None:
        sql = pin_system_time(sql, system_time(instant))
    if day is not None:
        sql = pin_business_time(sql, day)
    return sql
