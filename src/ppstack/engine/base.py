"""The SQL engine port.

Callers hand it Athena-dialect SQL (rendered templates or a user's query). Implementations:
``engine.athena.AthenaEngine`` submits it unchanged; ``engine.local.LocalEngine`` routes it
(sqlglot -> DuckDB for queries and DML, its own handlers for Glue/Iceberg DDL and CTAS).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Result:
    """Rows of a query, or the affected-row count of a statement.

    Values are Python objects (str, int, float, bool, date, datetime, None) on every backend.
    """

    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int | None = None  # DML / CTAS: rows written

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


# The Glue Data Catalog every account has; raw and staging databases live in it.
DEFAULT_CATALOG = "AwsDataCatalog"


@dataclass(frozen=True)
class QueryContext:
    """Where a statement runs: Athena's ``QueryExecutionContext`` (catalog and database).

    Hive DDL cannot name a catalog, so a statement on the S3 Tables catalog
    (``s3tablescatalog/<table bucket>``) gets it here instead of in its text.
    ref: https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionContext.html
    """

    catalog: str = DEFAULT_CATALOG
    database: str | None = None

    def to_api(self) -> dict[str, str]:
        """The ``QueryExecutionContext`` request member (Database left out when None)."""
        out = {"Catalog": self.catalog}
        if self.database:
            out["Database"] = self.database
        return out


class SqlEngine(Protocol):
    def execute(self, sql: str, context: QueryContext | None = None) -> Result:
        """Run one Athena-dialect statement in ``context`` (None: the engine's default).
        Raises ppstack.errors.EngineError on failure."""
        ...

    def table_ref(self, namespace: str, table: str) -> str:
        """How SQL names a table on this backend.

        raw/staging: ``raw.x``; conformed on AWS: ``"s3tablescatalog/<bucket>"."conformed"."x"``.
        """
        ...

    def close(self) -> None:
        ...
