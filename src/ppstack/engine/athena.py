"""Athena engine v3: submit Athena-dialect SQL unchanged, wait for it, read typed results.

Why the details below exist:

- Athena is asynchronous: ``StartQueryExecution`` returns an id and the statement runs in the
  background, so we poll ``GetQueryExecution`` with a capped backoff until a terminal state.
  ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryExecution.html
- Queued DML counts against the active-query quota; going over it answers the *submit* with
  ``TooManyRequestsException``. We retry the submit with backoff and reuse one
  ``ClientRequestToken`` so a retry can never start the statement twice.
  ref: https://docs.aws.amazon.com/athena/latest/ug/service-limits.html
- Results come back as strings only (``VarCharValue``); ``ResultSetMetadata.ColumnInfo`` says
  the Trino type, which we use to build Python values. For SELECT the first row of the first
  page repeats the column labels; DDL/UTILITY results (SHOW, DESCRIBE) have no header row.
  ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html
- Rows written by CTAS / INSERT / UPDATE are reported as ``UpdateCount`` of GetQueryResults (the
  ``Statistics`` block only carries bytes and times), so ``Result.rowcount`` comes from there.
- Conformed tables are S3 Tables reached through the Glue federated catalog
  ``s3tablescatalog/<table-bucket>``; the catalog name has a slash, so it must be quoted.
  ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
- The workgroup must not use SSE-KMS/CSE-KMS, or INSERT/MERGE on S3 Tables is refused; the
  deployment (``infra/``) creates it that way and this adapter only names it.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ppstack.engine.base import QueryContext, Result
from ppstack.errors import BadInput, EngineError
from ppstack.settings import Settings

TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
THROTTLE_CODES = ("TooManyRequestsException", "ThrottlingException")

_NAME = re.compile(r"^[a-z0-9_]+$")


# ---- value conversion -------------------------------------------------------------------------

def _to_bool(text: str) -> bool:
    return text.strip().lower() == "true"


def _to_float(text: str) -> float:
    # Trino prints NaN / Infinity / -Infinity; float() accepts all three.
    return float(text)


def _to_date(text: str) -> date:
    return date.fromisoformat(text.strip()[:10])


def _to_timestamp(text: str) -> datetime:
    """``2025-01-03 06:00:12.123`` (Athena prints up to millisecond or microsecond precision).

    ``timestamp with time zone`` values end with a zone name (``... UTC``); we keep UTC values
    naive-UTC like the rest of ppstack and keep any other zone as an offset when Python can parse
    it.
    """
    value = text.strip()
    zone = ""
    if " " in value[11:]:
        value, _, zone = value.rpartition(" ")
    parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    if zone and zone.upper() not in ("UTC", "Z"):
        try:
            return datetime.fromisoformat(f"{value.replace(' ', 'T', 1)}{zone}")
        except ValueError:
            return parsed
    return parsed


# Trino type name (lower case, without parameters) -> converter. Anything not listed (array, map,
# row, json, varbinary, time, interval) stays the string Athena sent.
CONVERTERS: dict[str, Callable[[str], Any]] = {
    "varchar": str,
    "char": str,
    "string": str,
    "integer": int,
    "int": int,
    "bigint": int,
    "smallint": int,
    "tinyint": int,
    "boolean": _to_bool,
    "date": _to_date,
    "timestamp": _to_timestamp,
    "timestamp with time zone": _to_timestamp,
    "double": _to_float,
    "real": _to_float,
    "float": _to_float,
    "decimal": Decimal,
}


def base_type(type_name: str) -> str:
    """``decimal(10,2)`` -> ``decimal``; ``varchar(20)`` -> ``varchar``; ``timestamp(3)`` ->
    ``timestamp``."""
    name = type_name.strip().lower()
    name = re.sub(r"\(.*?\)", "", name).strip()
    return re.sub(r"\s+", " ", name)


def convert(type_name: str, datum: dict[str, Any]) -> Any:
    """One result cell: a missing ``VarCharValue`` is SQL NULL."""
    if "VarCharValue" not in datum:
        return None
    text = datum["VarCharValue"]
    converter = CONVERTERS.get(base_type(type_name))
    if converter is None or converter is str:
        return text
    try:
        return converter(text)
    except (ValueError, ArithmeticError):
        return text  # never lose a value because of an unexpected textual form


# ---- engine -----------------------------------------------------------------------------------

class AthenaEngine:
    """``SqlEngine`` on Amazon Athena (engine v3) in the configured workgroup.

    ``client`` is injectable for tests (botocore Stubber, moto); ``sleep`` and ``clock`` too, so
    tests never wait for real.
    """

    def __init__(
        self,
        settings: Settings,
        client: Any | None = None,
        *,
        poll_initial: float = 0.25,
        poll_max: float = 5.0,
        submit_attempts: int = 8,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "athena",
                region_name=settings.region,
                config=Config(retries={"mode": "standard", "max_attempts": 3}),
            )
        self.settings = settings
        self.client = client
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.submit_attempts = submit_attempts
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock

    # -- SqlEngine ------------------------------------------------------------------------------

    @property
    def output_location(self) -> str:
        return self.settings.athena_output or f"s3://{self.settings.bucket}/athena-results/"

    def table_ref(self, namespace: str, table: str) -> str:
        """``"s3tablescatalog/<table-bucket>"."conformed"."t"`` or ``<namespace>.t`` (Glue default
        catalog databases ``raw`` and ``staging``).

        S3 Tables only accept lower-case ``[a-z0-9_]`` names, and Glue lower-cases database and
        table names, so anything else is refused here rather than failing later in Athena.
        ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-buckets-naming.html
        """
        for what, name in (("namespace", namespace), ("table", table)):
            if not _NAME.match(name or ""):
                raise BadInput(f"{what} name must be lower case [a-z0-9_], not {name!r}")
        from ppstack.backends import table_ref_for

        return table_ref_for("aws", self.settings.table_bucket, namespace, table)

    def execute(self, sql: str, context: QueryContext | None = None) -> Result:
        query_id = self.submit(sql, context)
        execution = self.wait(query_id, sql)
        return self.fetch(query_id, execution)

    def update_count(self, query_id: str) -> int | None:
        """Rows a finished CTAS / INSERT / MERGE wrote (``UpdateCount``), e.g. of a statement
        Step Functions ran; None when Athena reports none."""
        first = self.client.get_query_results(QueryExecutionId=query_id, MaxResults=1)
        count = first.get("UpdateCount")
        return int(count) if count is not None else None

    def close(self) -> None:
        """Nothing to release: boto3 clients hold no server-side session."""

    # -- steps ----------------------------------------------------------------------------------

    def submit(self, sql: str, context: QueryContext | None = None) -> str:
        """Start the statement; retry throttling with backoff under one idempotency token."""
        from botocore.exceptions import ClientError

        token = uuid.uuid4().hex  # 32 chars: the minimum Athena accepts
        delay = self.poll_initial
        for attempt in range(1, self.submit_attempts + 1):
            try:
                request: dict[str, Any] = {
                    "QueryString": sql,
                    "ClientRequestToken": token,
                    "WorkGroup": self.settings.athena_workgroup,
                    "ResultConfiguration": {"OutputLocation": self.output_location},
                }
                if context is not None:
                    request["QueryExecutionContext"] = context.to_api()
                resp = self.client.start_query_execution(**request)
                return str(resp["QueryExecutionId"])
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code", "")
                message = e.response.get("Error", {}).get("Message", str(e))
                if code in THROTTLE_CODES and attempt < self.submit_attempts:
                    self._sleep(delay)
                    delay = min(delay * 2, self.poll_max * 4)
                    continue
                raise EngineError(
                    f"Athena refused the statement ({code}): {message}"
                    f"{' after ' + str(attempt) + ' attempts' if code in THROTTLE_CODES else ''}"
                    f"\n{_excerpt(sql)}"
                ) from e
        raise AssertionError("unreachable")  # pragma: no cover

    def wait(self, query_id: str, sql: str = "") -> dict[str, Any]:
        """Poll until SUCCEEDED; FAILED/CANCELLED (or the optional timeout) raise EngineError."""
        delay = self.poll_initial
        started = self._clock()
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            status = execution.get("Status", {})
            state = status.get("State", "")
            if state == "SUCCEEDED":
                return execution
            if state in TERMINAL_STATES:
                raise EngineError(_failure_message(query_id, status, sql))
            if self.timeout is not None and self._clock() - started > self.timeout:
                self.client.stop_query_execution(QueryExecutionId=query_id)
                raise EngineError(
                    f"Athena query {query_id} still {state} after {self.timeout:.0f} s; "
                    f"it was cancelled\n{_excerpt(sql)}"
                )
            self._sleep(delay)
            delay = min(delay * 1.5, self.poll_max)

    def fetch(self, query_id: str, execution: dict[str, Any]) -> Result:
        """Read every page; SELECT -> rows, CTAS/INSERT/UPDATE/MERGE -> rowcount."""
        statement = execution.get("StatementType", "")
        sub = (execution.get("SubstatementType") or "").upper()
        is_select = statement == "DML" and sub in ("", "SELECT")
        if statement == "DML" and not is_select:
            return Result(rowcount=self.update_count(query_id))

        columns: list[str] = []
        types: list[str] = []
        rows: list[tuple[Any, ...]] = []
        first_page = True
        for page in self._pages(query_id):
            result_set = page.get("ResultSet", {})
            if first_page:
                info = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                columns = [c.get("Label") or c["Name"] for c in info]
                types = [c.get("Type", "varchar") for c in info]
            raw_rows = result_set.get("Rows", [])
            if first_page and raw_rows and _is_header(raw_rows[0], columns, is_select):
                raw_rows = raw_rows[1:]
            first_page = False
            for row in raw_rows:
                data = row.get("Data", [])
                rows.append(tuple(convert(t, d) for t, d in zip(types, data, strict=False)))
        return Result(columns=columns, rows=rows)

    def _pages(self, query_id: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": 1000}
            if token:
                kwargs["NextToken"] = token
            page = self.client.get_query_results(**kwargs)
            yield page
            token = page.get("NextToken")
            if not token:
                return


def _is_header(row: dict[str, Any], columns: list[str], is_select: bool) -> bool:
    """SELECT results repeat the labels as row one; SHOW/DESCRIBE output does not."""
    if is_select:
        return True
    values = [d.get("VarCharValue") for d in row.get("Data", [])]
    return bool(columns) and values == columns


def _failure_message(query_id: str, status: dict[str, Any], sql: str) -> str:
    state = status.get("State", "?")
    reason = status.get("StateChangeReason") or "no reason given"
    error = status.get("AthenaError") or {}
    details = []
    if "ErrorType" in error:
        details.append(f"error type {error['ErrorType']}")
    if "ErrorCategory" in error:
        category = {1: "system", 2: "user", 3: "other"}.get(error["ErrorCategory"], "?")
        details.append(f"category {error['ErrorCategory']} ({category})")
    if error.get("Retryable"):
        details.append("retryable")
    suffix = f" [{', '.join(details)}]" if details else ""
    # ref: https://docs.aws.amazon.com/athena/latest/ug/error-reference.html
    return f"Athena query {query_id} {state}: {reason}{suffix}\n{_excerpt(sql)}"


def _excerpt(sql: str, limit: int = 300) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
