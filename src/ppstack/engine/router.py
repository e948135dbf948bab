"""Reading Athena statements: parse, classify, and pull Glue/Iceberg details out of the tree.

sqlglot drops CTAS ``WITH (...)`` properties and Glue ``CREATE EXTERNAL TABLE`` details when it
writes DuckDB SQL, but its parsed tree keeps them (checked with sqlglot 30 and DuckDB 2.0), so the
router reads them here, from the tree, and never from regexes over the SQL text.
"""

from __future__ import annotations

from enum import Enum

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from ppstack.errors import EngineError


class Kind(Enum):
    CREATE_DATABASE = "CREATE DATABASE"
    CREATE_EXTERNAL_TABLE = "CREATE EXTERNAL TABLE"
    CREATE_ICEBERG_TABLE = "CREATE TABLE (Iceberg)"
    CTAS = "CREATE TABLE AS SELECT"
    DROP_TABLE = "DROP TABLE"
    INSERT = "INSERT"
    MERGE = "MERGE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    QUERY = "SELECT"
    SHOW = "SHOW"
    DESCRIBE = "DESCRIBE"
    ADD_COLUMNS = "ALTER TABLE ADD COLUMNS"


def first_line(sql: str) -> str:
    """The statement's first meaningful line, for error messages."""
    for line in sql.splitlines():
        text = line.strip()
        if text and not text.startswith("--"):
            return text[:200]
    return sql.strip()[:200]


def parse(sql: str) -> exp.Expr:
    """Exactly one Athena statement (trailing ``;`` and comments allowed)."""
    body = "\n".join(ln for ln in sql.splitlines()
                     if not ln.strip().startswith("--")).strip().rstrip(";")
    if body[:4].upper() == "SHOW" and ";" not in body:
        # sqlglot's Athena parser has no SHOW grammar; it would fall back to a Command with a
        # warning.
        return exp.Command(this="SHOW", expression=exp.Literal.string(body[4:].strip()))
    try:
        trees = [t for t in sqlglot.parse(sql, read="athena")
                 if t is not None and not isinstance(t, exp.Semicolon)]
    except SqlglotError as e:
        raise EngineError(f"cannot parse SQL: {e}") from e
    if len(trees) != 1:
        raise EngineError(f"expected one SQL statement, got {len(trees)}")
    return trees[0]


def classify(tree: exp.Expr) -> Kind:
    if isinstance(tree, exp.Create):
        kind = (tree.args.get("kind") or "").upper()
        if kind in ("DATABASE", "SCHEMA"):
            return Kind.CREATE_DATABASE
        if kind == "TABLE":
            props = properties(tree)
            if tree.args.get("expression") is not None:
                return Kind.CTAS
            if "__external__" in props or "__location__" in props:
                return Kind.CREATE_EXTERNAL_TABLE
            return Kind.CREATE_ICEBERG_TABLE
    if isinstance(tree, exp.Drop) and (tree.args.get("kind") or "").upper() == "TABLE":
        return Kind.DROP_TABLE
    simple = {exp.Insert: Kind.INSERT, exp.Merge: Kind.MERGE, exp.Update: Kind.UPDATE,
              exp.Delete: Kind.DELETE, exp.Describe: Kind.DESCRIBE}
    for cls, k in simple.items():
        if isinstance(tree, cls):
            return k
    if isinstance(tree, (exp.Select, exp.SetOperation, exp.Subquery, exp.Values)):
        return Kind.QUERY
    if isinstance(tree, exp.Command) and str(tree.this).upper() == "SHOW":
        return Kind.SHOW
    if isinstance(tree, exp.Alter) and (tree.args.get("kind") or "").upper() == "TABLE":
        actions = tree.args.get("actions") or []
        if actions and all(isinstance(a, exp.Schema) for a in actions):
            return Kind.ADD_COLUMNS
    raise EngineError(f"unsupported statement kind: {statement_kind_name(tree)}")


def statement_kind_name(tree: exp.Expr) -> str:
    if isinstance(tree, exp.Command):
        return str(tree.this).upper()
    if isinstance(tree, (exp.Create, exp.Drop, exp.Alter)):
        return f"{type(tree).__name__.upper()} {(tree.args.get('kind') or '').upper()}".strip()
    return type(tree).__name__.upper()


def properties(create: exp.Create) -> dict[str, object]:
    """Glue/CTAS properties by lower-case name; markers ``__external__``, ``__location__``,
    ``__format__``, ``__partitioned_by__`` for the non key/value ones."""
    out: dict[str, object] = {}
    props = create.args.get("properties")
    if props is None:
        return out
    for p in props.expressions:
        if isinstance(p, exp.ExternalProperty):
            out["__external__"] = True
        elif isinstance(p, exp.LocationProperty):
            out["__location__"] = p.this.name
        elif isinstance(p, exp.FileFormatProperty):
            out["__format__"] = p.this.name
        elif isinstance(p, exp.PartitionedByProperty):
            out["__partitioned_by__"] = p.this
        elif isinstance(p, exp.RowFormatSerdeProperty):
            out["__serde__"] = p.this.name
        elif isinstance(p, exp.Property):
            plain = (exp.Literal, exp.Var, exp.Identifier)
            key = p.this.name if isinstance(p.this, plain) else p.this.sql()
            value = p.args.get("value")
            out[key.lower()] = value.name if isinstance(value, plain) else value
    return out


def table_of(node: exp.Expr) -> exp.Table:
    """The table a DDL/DML statement targets (``INSERT INTO t (cols)`` wraps it in a Schema)."""
    target = node.this if isinstance(node, exp.Schema) else node
    if not isinstance(target, exp.Table):
        raise EngineError(f"expected a table name, got {node.sql('athena')}")
    return target


def qualified(table: exp.Table) -> tuple[str, str]:
    """(namespace, name) of a ``db.t`` reference; the catalog part, if any, is ignored locally."""
    if not table.db:
        raise EngineError(f"table {table.name} must be qualified with its database "
                          f"(db.{table.name})")
    return table.db.lower(), table.name.lower()


def column_defs(schema: exp.Schema) -> list[tuple[str, exp.DataType]]:
    out = []
    for cd in schema.expressions:
        if not isinstance(cd, exp.ColumnDef) or cd.args.get("kind") is None:
            raise EngineError(f"expected 'name type', got {cd.sql('athena')}")
        out.append((cd.name.lower(), cd.args["kind"]))
    return out


_STRING_TYPES = (exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR)


def athena_type(dtype: exp.DataType) -> str:
    """Glue type name of a column: ``string`` whether the DDL said string or varchar."""
    if dtype.this in _STRING_TYPES and not dtype.expressions:
        return "string"
    return dtype.sql("athena").lower()


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    node = node.unnest() if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.And):
        return [c for part in node.flatten() for c in _conjuncts(part)]
    return [node]


def pinned_values(table: exp.Table, keys: list[str]) -> dict[str, list[str]]:
    """Static values the enclosing SELECT's WHERE fixes for partition ``keys`` of ``table``.

    Only top-level AND-ed ``key = 'v'`` / ``key IN ('a', 'b')`` conjuncts count, with the column
    unqualified or qualified by this table's alias or name; anything else pins nothing (and the
    reader then enumerates partitions, which is slower but still correct).
    """
    select = table.find_ancestor(exp.Select)
    where = select.args.get("where") if select is not None else None
    if where is None or not keys:
        return {}
    names = {"", table.alias_or_name.lower(), table.name.lower()}
    out: dict[str, list[str]] = {}

    def key_of(col: exp.Expr) -> str | None:
        if isinstance(col, exp.Column) and col.name.lower() in keys and col.table.lower() in names:
            return col.name.lower()
        return None

    for c in _conjuncts(where.this):
        if isinstance(c, exp.EQ):
            for a, b in ((c.this, c.expression), (c.expression, c.this)):
                k = key_of(a)
                if k and isinstance(b, exp.Literal) and b.is_string:
                    out.setdefault(k, []).append(b.name)
        elif isinstance(c, exp.In) and not c.args.get("query"):
            k = key_of(c.this)
            items = c.expressions
            if k and items and all(isinstance(i, exp.Literal) and i.is_string for i in items):
                out.setdefault(k, []).extend(i.name for i in items)
    # Several conjuncts on one key: reading their union is a superset, and the WHERE still filters.
    return {k: sorted(set(v)) for k, v in out.items()}
