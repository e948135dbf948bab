"""A stand-in for the boto3 Athena client that speaks Athena's API and executes on the local
engine, so the SQL engine contract can run through ``AthenaEngine`` without AWS.

It answers the three calls the adapter makes with the shapes the Athena API reference gives:

- ``StartQueryExecution`` returns a ``QueryExecutionId``; the statement runs at once.
  ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_StartQueryExecution.html
- ``GetQueryExecution``: ``Status.State`` SUCCEEDED or FAILED with ``StateChangeReason``;
  ``StatementType`` DML for queries, CTAS, INSERT and MERGE ("DML indicates DML ... query
  statements, such as CREATE TABLE AS SELECT"), DDL for other DDL, with ``SubstatementType``.
  ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecution.html
- ``GetQueryResults``: every value a string (``VarCharValue``, absent for NULL), the column
  labels repeated as the first row of a SELECT, ``ResultSetMetadata.ColumnInfo`` with the Trino
  type, pages of ``MaxResults`` joined by ``NextToken``, and ``UpdateCount`` for statements that
  write rows. ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html

Conformed tables are named as on AWS, ``"s3tablescatalog/<table bucket>"."conformed"."t"``;
the double strips the catalog before handing the statement to the local engine, which has one
catalog. What the Athena leg of the contract therefore checks is that the adapter carries every
behaviour through the Athena conversation intact: states, errors, types, row counts.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from athena_results import query_results
from ppstack.engine.local import LocalEngine
from ppstack.errors import PpstackError

_CATALOG = re.compile(r'"s3tablescatalog/[a-z0-9-]+"\.')


def _kind(sql: str) -> tuple[str, str]:
    words = sql.lstrip().upper().split()
    first = words[0] if words else ""
    if first in ("SELECT", "WITH"):
        return "DML", "SELECT"
    if first in ("INSERT", "MERGE", "UPDATE", "DELETE"):
        return "DML", first
    if first == "CREATE" and " AS " in f" {sql.upper()} " and "SELECT" in sql.upper():
        return "DML", "CREATE_TABLE_AS_SELECT"
    if first in ("SHOW", "DESCRIBE"):
        return "UTILITY", first
    return "DDL", first


class AthenaOverLocal:
    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self.ids = itertools.count(1)
        self.executions: dict[str, dict[str, Any]] = {}

    def start_query_execution(self, **request: Any) -> dict[str, str]:
        query_id = f"q-{next(self.ids)}"
        sql = request["QueryString"]
        statement, sub = _kind(sql)
        record: dict[str, Any] = {"statement": statement, "sub": sub}
        try:
            record["result"] = self.engine.execute(_CATALOG.sub("", sql))
            record["state"] = "SUCCEEDED"
        except PpstackError as e:
            record["state"], record["reason"] = "FAILED", str(e)
        self.executions[query_id] = record
        return {"QueryExecutionId": query_id}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
        r = self.executions[QueryExecutionId]
        status = {"State": r["state"]}
        if "reason" in r:
            status["StateChangeReason"] = r["reason"]
        return {"QueryExecution": {"QueryExecutionId": QueryExecutionId, "Status": status,
                                   "StatementType": r["statement"],
                                   "SubstatementType": r["sub"]}}

    def get_query_results(self, QueryExecutionId: str, MaxResults: int = 1000,  # noqa: N803
                          NextToken: str | None = None) -> dict[str, Any]:  # noqa: N803
        r = self.executions[QueryExecutionId]
        return query_results(r["result"], r["statement"], r["sub"], MaxResults, NextToken)

    def stop_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:  # noqa: N803
        return {}
