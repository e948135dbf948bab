"""GetQueryResults of an Athena test double, built from a local engine ``Result``: what both
doubles (``aws_emulator``, ``contract/athena_double``) answer.

As Athena does: every value comes back as text (``VarCharValue``; NULL has none), timestamps as
``YYYY-MM-DD HH:MM:SS.mmm``; ``ResultSetMetadata.ColumnInfo`` names each column's type; a
SELECT's first row repeats the column names; a DML statement other than SELECT answers with
``UpdateCount`` and no rows; pages of ``MaxResults`` rows continue with ``NextToken``.
ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ppstack.engine.base import Result


def athena_type(values: list[Any]) -> str:
    """The column type Athena would report for a column holding ``values``."""
    sample = next((v for v in values if v is not None), "")
    for kind, name in ((bool, "boolean"), (int, "bigint"), (float, "double"),
                       (Decimal, "decimal(38,9)"), (datetime, "timestamp"), (date, "date")):
        if isinstance(sample, kind):
            return name
    return "varchar"


def datum(value: Any) -> dict[str, str]:
    """One result cell as Athena sends it."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"VarCharValue": "true" if value else "false"}
    if isinstance(value, datetime):
        return {"VarCharValue": value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]}
    return {"VarCharValue": str(value)}


def query_results(result: Result, statement_type: str, substatement_type: str,
                  max_results: int, next_token: str | None) -> dict[str, Any]:
    """The GetQueryResults answer for ``result`` of a statement of the given types."""
    if statement_type == "DML" and substatement_type != "SELECT":
        out: dict[str, Any] = {"ResultSet": {"Rows": [],
                                             "ResultSetMetadata": {"ColumnInfo": []}}}
        if result.rowcount is not None:
            out["UpdateCount"] = result.rowcount
        return out
    columns = list(result.columns)
    info = [{"Name": c, "Label": c, "Type": athena_type([r[i] for r in result.rows])}
            for i, c in enumerate(columns)]
    header = [{"Data": [{"VarCharValue": c} for c in columns]}]
    rows = header if substatement_type == "SELECT" else []
    rows += [{"Data": [datum(v) for v in row]} for row in result.rows]
    start = int(next_token or 0)
    out = {"ResultSet": {"Rows": rows[start:start + max_results],
                         "ResultSetMetadata": {"ColumnInfo": info}}}
    if start + max_results < len(rows):
        out["NextToken"] = str(start + max_results)
    return out
