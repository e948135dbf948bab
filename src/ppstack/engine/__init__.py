"""SQL engine port: Athena on AWS, DuckDB (+ sqlglot + pyiceberg) locally."""

from ppstack.engine.base import Result, SqlEngine

__all__ = ["Result", "SqlEngine"]
