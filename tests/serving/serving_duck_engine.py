"""A real SQL engine for serving tests until the project's LocalEngine lands: DuckDB running the
Athena templates translated by sqlglot, over an in-memory ``conformed.<entity>`` table loaded
from the SCD2 model's rows. Implements the ``SqlEngine`` port (execute / table_ref / close)."""

from __future__ import annotations

from typing import Any

import duckdb
import sqlglot

from ppstack.engine.base import Result
from ppstack.entities.spec import EntitySpec, conformed_columns

DUCK_TYPES = {"string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP", "boolean": "BOOLEAN"}


class DuckEngine:
    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("CREATE SCHEMA conformed")
        self.statements: list[str] = []

    def load(self, spec: EntitySpec, rows: list[dict[str, Any]]) -> None:
        cols = conformed_columns(spec)
        self.con.execute(f"DROP TABLE IF EXISTS conformed.{spec.lname}")
        ddl = ", ".join(f"{c.name} {DUCK_TYPES[c.type]}" for c in cols)
        self.con.execute(f"CREATE TABLE conformed.{spec.lname} ({ddl})")
        if rows:
            marks = ", ".join("?" for _ in cols)
            self.con.executemany(
                f"INSERT INTO conformed.{spec.lname} VALUES ({marks})",
                [[r.get(c.name) for c in cols] for r in rows],
            )

    def execute(self, sql: str) -> Result:
        self.statements.append(sql)
        duck = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
        cur = self.con.execute(duck)
        columns = [d[0] for d in cur.description]
        return Result(columns=columns, rows=[tuple(r) for r in cur.fetchall()])

    def table_ref(self, namespace: str, table: str) -> str:
        return f"{namespace}.{table}"

    def close(self) -> None:
        self.con.close()
