"""The local SQL engine: the embedded stand-in for Athena + Glue + S3 Tables.

It takes the same Athena-dialect statements the AWS backend submits and routes each one by kind
(``engine.router``): queries and DML are translated by sqlglot and run in DuckDB; Glue DDL and
CTAS are handled against a JSON registry (``engine.registry``) and Parquet files in the local
object store (``engine.external``); Iceberg DDL and writes go through pyiceberg
(``engine.iceberg``), one snapshot per statement, as on Athena.

Table names in a statement are bound per statement: an external table becomes a DuckDB view over
the Parquet files that exist now (only the pinned partitions when the WHERE fixes the projected
key), an Iceberg table becomes the Arrow table of its current (or time-travelled) snapshot. All
state lives under ``settings.home_path``, so every process and every ``LocalEngine`` sees the
same tables.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeAlias

import duckdb
from sqlglot import exp
from sqlglot.errors import SqlglotError

from ppstack.engine import external as ext
from ppstack.engine import router
from ppstack.engine.base import QueryContext, Result
from ppstack.engine.registry import ExternalTable, Registry, check_name
from ppstack.engine.router import Kind
from ppstack.errors import EngineError
from ppstack.settings import Settings
from ppstack.sql import literal

# CTAS write_compression -> DuckDB Parquet codec.
_COMPRESSION = {"snappy": "snappy", "gzip": "gzip", "zstd": "zstd", "lz4": "lz4",
                "none": "uncompressed", "uncompressed": "uncompressed"}

# Undo actions of one statement, run in reverse order when it ends; their results are ignored.
Cleanup: TypeAlias = list[Callable[[], object]]


def _slice(node: exp.ArraySlice) -> exp.Expr:
    """Trino ``slice(a, start, length)`` -> DuckDB ``list_slice(a, start, start + length - 1)``."""
    start, length = node.args.get("start"), node.args.get("end")
    if start is None or length is None:
        return node
    end = exp.Sub(this=exp.Add(this=start.copy(), expression=length.copy()),
                  expression=exp.Literal.number(1))
    return exp.func("list_slice", node.this.copy(), start.copy(), end)


def _regexp_replacement(node: exp.RegexpReplace) -> exp.Expr:
    """Java-style group references in a replacement (``$1``) -> RE2's ``\\1``."""
    import re

    rep = node.args.get("replacement")
    if isinstance(rep, exp.Literal) and rep.is_string and "$" in rep.name:
        text = re.sub(r"(?<!\\)\$(\d)", r"\\\1", rep.name).replace("\\$", "$")
        node.set("replacement", exp.Literal.string(text))
    return node


def _md5_hex(node: exp.LowerHex) -> exp.Expr:
    """Trino's ``lower(to_hex(md5(to_utf8(s))))`` (the row fingerprint) -> DuckDB ``md5(s)``:
    the same lower-case hex digest of the UTF-8 bytes, without sqlglot's literal rendering as
    ``lower(hex(unhex(md5(encode(s)))))``, which converts every digest three more times."""
    digest = node.this
    if isinstance(digest, exp.MD5Digest) and isinstance(digest.this, exp.Encode):
        charset = digest.this.args.get("charset")
        if charset is None or charset.name.lower().replace("-", "") == "utf8":
            return exp.MD5(this=digest.this.this.copy())
    return node


class LocalEngine:
    """``SqlEngine`` on DuckDB + pyiceberg. Not shared between threads without its lock (it has
    one)."""

    # Athena (Trino) functions sqlglot does not translate for DuckDB, by lower-case name:
    # each maps the call's arguments to a DuckDB expression.
    FUNCTIONS: dict[str, Callable[[list[exp.Expr]], exp.Expr]] = {
        "codepoint": lambda args: exp.func("unicode", *args),
    }
    # sqlglot nodes whose DuckDB rendering differs in meaning from Trino's.
    NODE_FIXES: dict[type[exp.Expr], Callable[[Any], exp.Expr]] = {
        exp.ArraySlice: _slice,
        exp.RegexpReplace: _regexp_replacement,
        exp.LowerHex: _md5_hex,
    }

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        home = settings.home_path
        self.objects = ext.ObjectRoot(home / "s3")
        self.registry = Registry(home / "catalog")
        self._warehouse = home / "warehouse"
        self._iceberg: Any = None
        # DuckDB keeps what it reads and builds in memory up to its limit (by default 80 % of
        # the machine) and spills beyond it: a modest limit keeps a daily batch within a few
        # hundred MB, and spilling goes under the home, never into the working directory.
        spill = home / "tmp" / "duckdb"  # DuckDB creates it when it spills, not its parents
        spill.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(":memory:", config={
            "memory_limit": settings.duckdb_memory_limit, "temp_directory": str(spill)})
        self.con.execute("SET TimeZone = 'UTC'")
        self._names = itertools.count()
        self._lock = threading.RLock()

    # ---- SqlEngine ----
    def table_ref(self, namespace: str, table: str) -> str:
        return f"{namespace}.{table}"

    def close(self) -> None:
        with self._lock:
            if self.con is not None:
                self.con.close()
                self.con = None  # type: ignore[assignment]

    def execute(self, sql: str, context: QueryContext | None = None) -> Result:
        """Run one Athena statement; every failure is an EngineError naming the statement.

        ``context`` is accepted for the port's sake: the local engine has one catalog and every
        template names its tables with their database, so it changes nothing here.
        """
        line = router.first_line(sql)
        with self._lock:
            if self.con is None:
                raise EngineError(f"engine is closed [statement: {line}]")
            cleanup: Cleanup = []
            try:
                tree = router.parse(sql)
                kind = router.classify(tree)
                return self._handlers[kind](self, tree, cleanup)
            except EngineError as e:
                raise EngineError(f"{e} [statement: {line}]") from e
            except duckdb.Error as e:
                raise EngineError(f"{_duckdb_message(e)} [statement: {line}]") from e
            except SqlglotError as e:
                raise EngineError(f"SQL translation failed: {e} [statement: {line}]") from e
            except Exception as e:  # pyiceberg, pyarrow, OS errors: still the engine's failure
                raise EngineError(f"{type(e).__name__}: {e} [statement: {line}]") from e
            finally:
                for undo in reversed(cleanup):
                    with contextlib.suppress(Exception):
                        undo()

    # ---- Python API for tests and the CLI ----
    def snapshots(self, namespace: str, table: str) -> list[dict[str, Any]]:
        """Iceberg snapshots oldest first: snapshot_id, committed_at (UTC, aware), operation,
        summary."""
        with self._lock:
            return [s.as_dict() for s in self.iceberg.snapshots(namespace, table)]

    def iceberg_table(self, namespace: str, table: str) -> Any:
        """The pyiceberg ``Table`` (fresh from the catalog)."""
        with self._lock:
            return self.iceberg.load(namespace, table)

    @property
    def iceberg(self) -> Any:
        if self._iceberg is None:
            from ppstack.engine.iceberg import IcebergStore

            self._iceberg = IcebergStore(self._warehouse)
        return self._iceberg

    # ---- binding table names ----
    def _name(self, prefix: str) -> str:
        return f"__{prefix}_{next(self._names)}"

    def _is_iceberg(self, ns: str, name: str) -> bool:
        return self._warehouse.exists() and self.iceberg.exists(ns, name)

    def _view(self, select_sql: str, cleanup: Cleanup) -> str:
        """A temp view over ``select_sql`` for the statement's lifetime (files are read when
        and as far as the statement needs them)."""
        view = self._name("view")
        self.con.execute(f"CREATE TEMP VIEW {view} AS {select_sql}")
        self._on_cleanup(cleanup, f"DROP VIEW IF EXISTS {view}")
        return view

    def _on_cleanup(self, cleanup: Cleanup, sql: str) -> None:
        """Run ``sql`` (a DROP of a temp relation) when the statement ends."""
        cleanup.append(lambda: self.con.execute(sql))

    def _bind_reads(self, tree: exp.Expr, cleanup: Cleanup,
                    skip: exp.Table | None = None) -> None:
        """Point every ``db.t`` in ``tree`` (except ``skip``, a DML target) at a DuckDB relation."""
        for table in list(tree.find_all(exp.Table)):
            if table is skip or not table.db or not isinstance(table.this, exp.Identifier):
                continue  # CTE names, table functions and unqualified DuckDB names stay as they are
            ns, name = router.qualified(table)
            version = table.args.get("version")
            definition = self.registry.get(ns, name)
            if definition is not None:
                if version is not None:
                    raise EngineError(f"{ns}.{name} is not an Iceberg table: no time travel")
                pinned = router.pinned_values(table, [k for k, _t in definition.partition_keys])
                view = self._view(ext.read_sql(definition, self.objects, pinned), cleanup)
            elif self._is_iceberg(ns, name):
                ice = self.iceberg.load(ns, name)
                snapshot_id = self._version(ice, version) if version is not None else None
                view = self._view(self.iceberg.scan(ice, snapshot_id).sql(), cleanup)
            else:
                raise EngineError(f"table {ns}.{name} does not exist (TABLE_NOT_FOUND)")
            _rebind(table, view, name)

    def _version(self, ice: Any, version: exp.Version) -> int:
        """``FOR VERSION AS OF <id>`` / ``FOR TIMESTAMP AS OF <expr>`` -> a snapshot id."""
        kind = str(version.this).upper()
        expr = version.args["expression"]
        if kind == "VERSION":
            try:
                return int(expr.name)
            except ValueError:
                raise EngineError("FOR VERSION AS OF needs a snapshot id, got "
                                  f"{expr.sql('athena')}") from None
        sql = exp.cast(expr.copy(), exp.DataType.build("timestamptz")).sql("duckdb")
        ms = self.con.execute(f"SELECT epoch_ms({sql})").fetchall()[0][0]
        return self.iceberg.snapshot_id_as_of(ice, int(ms))

    def _duck(self, tree: exp.Expr) -> str:
        """DuckDB SQL for a bound tree, with the engine's function translation table applied."""
        for node in list(tree.find_all(exp.Anonymous)):
            fix = self.FUNCTIONS.get(node.name.lower())
            if fix is not None:
                node.replace(fix(list(node.expressions)))
        for cls, node_fix in self.NODE_FIXES.items():
            for found in list(tree.find_all(cls)):
                found.replace(node_fix(found))
        _inline_single_use_ctes(tree)
        return tree.sql(dialect="duckdb")

    def _rows(self, sql: str) -> Result:
        cur = self.con.execute(sql)
        desc = cur.description or []
        columns = [d[0] for d in desc]
        if any(str(d[1]).upper() == "TIMESTAMP WITH TIME ZONE" for d in desc):
            # DuckDB's Python conversion of TIMESTAMPTZ needs pytz; Arrow's does not.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "extra copy" notice: fine for the rare tz result
                table = cur.to_arrow_table()
            if table is None:  # the stubs allow it; a cursor with a description has a result
                raise EngineError("DuckDB returned no result set")
            data = table.to_pydict()
            rows = list(zip(*(data[c] for c in table.column_names), strict=True))
            return Result(columns=columns, rows=rows)
        return Result(columns=columns, rows=cur.fetchall())

    # ---- handlers ----
    def _query(self, tree: exp.Expr, cleanup: Cleanup) -> Result:
        self._bind_reads(tree, cleanup)
        return self._rows(self._duck(tree))

    def _create_database(self, tree: exp.Create, cleanup: Cleanup) -> Result:
        target = tree.this
        name = (target.name or target.db).lower()
        check_name(name, "database")
        if not self.registry.create_database(name) and not tree.args.get("exists"):
            raise EngineError(f"database {name} already exists")
        self.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')
        return Result()

    def _require_database(self, ns: str) -> None:
        if not self.registry.has_database(ns):
            raise EngineError(f"database {ns} does not exist: run CREATE DATABASE {ns} first "
                              "(SCHEMA_NOT_FOUND)")

    def _exists_anywhere(self, ns: str, name: str) -> bool:
        return self.registry.get(ns, name) is not None or self._is_iceberg(ns, name)

    def _create_external(self, tree: exp.Create, cleanup: Cleanup) -> Result:
        schema = tree.this
        ns, name = router.qualified(router.table_of(schema))
        props = router.properties(tree)
        if "__location__" not in props:
            raise EngineError(f"CREATE EXTERNAL TABLE {ns}.{name} needs a LOCATION")
        fmt = str(props.get("__format__", "parquet")).lower()
        if fmt != "parquet":
            raise EngineError("only STORED AS PARQUET external tables are supported locally, "
                              f"not {fmt}")
        self._require_database(ns)
        columns = [[n, router.athena_type(t)] for n, t in router.column_defs(schema)]
        keys: list[list[str]] = []
        if "__partitioned_by__" in props:
            partitioned = props["__partitioned_by__"]
            if not isinstance(partitioned, exp.Schema):
                raise EngineError(f"PARTITIONED BY of {ns}.{name} needs a column list")
            keys = [[n, router.athena_type(t)] for n, t in router.column_defs(partitioned)]
        plain = {k: str(v) for k, v in props.items() if not k.startswith("__")}
        template = plain.get("storage.location.template")
        if template is not None and not keys:
            raise EngineError("storage.location.template needs PARTITIONED BY columns")
        table = ExternalTable(ns, name, columns, str(props["__location__"]), keys, template,
                              properties=plain)
        self.objects.path(table.location)  # validates the URI
        if self._is_iceberg(ns, name) or not self.registry.create(table):
            if tree.args.get("exists"):
                return Result()
            raise EngineError(f"table {ns}.{name} already exists")
        return Result()

    def _create_iceberg(self, tree: exp.Create, cleanup: Cleanup) -> Result:
        schema = tree.this
        if not isinstance(schema, exp.Schema):
            raise EngineError("CREATE TABLE needs a column list (or AS SELECT)")
        ns, name = router.qualified(router.table_of(schema))
        check_name(ns, "namespace")
        check_name(name, "table")
        props = router.properties(tree)
        plain = {k: str(v) for k, v in props.items() if not k.startswith("__")}
        if plain.get("table_type", "").upper() != "ICEBERG":
            raise EngineError(f"CREATE TABLE {ns}.{name} without LOCATION must be an Iceberg "
                              "table: add TBLPROPERTIES ('table_type'='ICEBERG')")
        if self.registry.get(ns, name) is not None:
            if tree.args.get("exists"):
                return Result()
            raise EngineError(f"table {ns}.{name} already exists (as an external table)")
        partitioned = props.get("__partitioned_by__")
        parts = list(partitioned.expressions) if isinstance(partitioned, exp.Schema) else []
        plain.pop("table_type", None)
        self.iceberg.create(ns, name, router.column_defs(schema), parts, plain,
                            bool(tree.args.get("exists")))
        return Result()

    def _ctas(self, tree: exp.Create, cleanup: Cleanup) -> Result:
        ns, name = router.qualified(router.table_of(tree.this))
        props = router.properties(tree)
        if str(props.get("table_type", "hive")).lower() == "iceberg":
            raise EngineError("Iceberg CTAS is not supported locally: CREATE the table, "
                              "then INSERT")
        for unsupported in ("partitioned_by", "bucketed_by", "bucket_count"):
            if unsupported in props:
                raise EngineError(f"CTAS property {unsupported} is not supported locally")
        location = props.get("external_location")
        if not location:
            raise EngineError(f"CTAS {ns}.{name} needs WITH (external_location = 's3://…/')")
        fmt = str(props.get("__format__", props.get("format", "parquet"))).lower()
        if fmt != "parquet":
            raise EngineError(f"only format='PARQUET' CTAS is supported locally, not {fmt}")
        codec = _COMPRESSION.get(str(props.get("write_compression", "snappy")).lower())
        if codec is None:
            raise EngineError(f"unknown write_compression {props.get('write_compression')!r}")
        self._require_database(ns)
        if self._exists_anywhere(ns, name):
            if tree.args.get("exists"):
                return Result(rowcount=0)
            raise EngineError(f"table {ns}.{name} already exists")
        directory = self.objects.path(str(location))
        if ext.has_any_file(directory):
            raise EngineError(f"HIVE_PATH_ALREADY_EXISTS: target directory for table '{ns}.{name}' "
                              f"already exists: {location}")
        select = tree.args["expression"]
        self._bind_reads(select, cleanup)
        created_dir = not directory.exists()
        try:
            n = ext.write_parquet_atomically(self.con, self._duck(select), directory, codec)
        except BaseException:
            if created_dir and directory.exists() and not any(directory.iterdir()):
                directory.rmdir()
            raise
        import pyarrow.parquet as pq

        written = ext.data_files(directory)
        schema = pq.read_schema(written[0])
        columns = [[f.name.lower(), ext.arrow_to_athena_type(f.type)] for f in schema]
        table = ExternalTable(ns, name, columns, str(location), properties={
            k: str(v) for k, v in props.items() if not k.startswith("__")})
        if not self.registry.create(table):
            raise EngineError(f"table {ns}.{name} was created concurrently; its files are at "
                              f"{location}")
        return Result(rowcount=n)

    def _drop(self, tree: exp.Drop, cleanup: Cleanup) -> Result:
        tables = tree.args.get("tables") or tree.expressions or ([tree.this] if tree.this else [])
        for table in tables:  # sqlglot 30 keeps DROP's names in "tables"
            ns, name = router.qualified(table)
            if self.registry.drop(ns, name):
                continue  # data stays: DROP of an external table never deletes files
            if self._is_iceberg(ns, name):
                self.iceberg.drop(ns, name)
            elif not tree.args.get("exists"):
                raise EngineError(f"table {ns}.{name} does not exist")
        return Result()

    def _insert(self, tree: exp.Insert, cleanup: Cleanup) -> Result:
        if tree.args.get("overwrite"):
            raise EngineError("INSERT OVERWRITE is not supported by Athena for these tables")
        target = router.table_of(tree.this)
        ns, name = router.qualified(target)
        definition = self.registry.get(ns, name)
        if definition is None and not self._is_iceberg(ns, name):
            raise EngineError(f"table {ns}.{name} does not exist (TABLE_NOT_FOUND)")
        if definition is not None:
            return self._insert_external(tree, target, definition, cleanup)
        ice = self.iceberg.load(ns, name)
        # The scratch table has the Iceberg schema; we append exactly what it holds.
        empty = self.iceberg.scan_of_nothing(ice).sql()
        scratch, n = self._insert_rows(tree, target, f"AS {empty}", cleanup)
        if n == 0:
            return Result(rowcount=0)  # nothing to commit: no snapshot, as on Athena
        self.iceberg.append(ice, self.con.sql(f"SELECT * FROM {scratch}").to_arrow_table())
        return Result(rowcount=n)

    def _insert_rows(self, tree: exp.Insert, target: exp.Table, shell: str,
                     cleanup: Cleanup) -> tuple[str, int]:
        """Run the INSERT into a scratch table of the target's columns (``shell``: its column
        list, or ``AS`` an empty relation): DuckDB then does Athena's positional column mapping
        and casts. Returns the scratch table and the rows inserted."""
        scratch = self._name("ins")
        self.con.execute(f"CREATE TEMP TABLE {scratch} {shell}")
        self._on_cleanup(cleanup, f"DROP TABLE IF EXISTS {scratch}")
        self._bind_reads(tree, cleanup, skip=target)
        _rebind(target, scratch, None)
        return scratch, int(self.con.execute(self._duck(tree)).fetchall()[0][0])

    def _insert_external(self, tree: exp.Insert, target: exp.Table, definition: ExternalTable,
                         cleanup: Cleanup) -> Result:
        cols = ", ".join(f'"{c}" {ext.athena_to_duckdb_type(t)}'
                         for c, t in definition.all_columns)
        scratch, n = self._insert_rows(tree, target, f"({cols})", cleanup)
        if n == 0:
            return Result(rowcount=0)
        data_cols = ", ".join(f'"{c}"' for c, _t in definition.columns)
        keys = [k for k, _t in definition.partition_keys]
        if not keys:
            ext.write_parquet_atomically(self.con, f"SELECT {data_cols} FROM {scratch}",
                                         self.objects.path(definition.location), "snappy")
            return Result(rowcount=n)
        key_cols = ", ".join(f'CAST("{k}" AS VARCHAR)' for k in keys)
        for combo in self.con.execute(f"SELECT DISTINCT {key_cols} FROM {scratch}").fetchall():
            if any(v is None for v in combo):
                raise EngineError("INSERT into a partitioned table needs non-NULL partition values")
            values = {k: [str(v)] for k, v in zip(keys, combo, strict=True)}
            ((_vals, directory),) = ext.partition_dirs(definition, self.objects, values)
            cond = " AND ".join(f'CAST("{k}" AS VARCHAR) = {literal(str(v))}'
                                for k, v in zip(keys, combo, strict=True))
            ext.write_parquet_atomically(
                self.con, f"SELECT {data_cols} FROM {scratch} WHERE {cond}", directory, "snappy")
        return Result(rowcount=n)

    def _modify(self, tree: exp.Expr, cleanup: Cleanup) -> Result:
        """MERGE / UPDATE / DELETE on an Iceberg table: merge-on-read in one snapshot, as Athena.

        DuckDB runs the statement against a copy of the current rows it can touch (read from
        the snapshot's files, ``merge_on_read.Scan``; ``_copy_candidates``), each carrying the
        data file and position it lives at and a ``__touched`` flag every UPDATE sets. When rows
        changed, ONE commit writes position deletes for the updated and deleted rows and new
        data files for the updated and inserted ones (``engine.merge_on_read``): untouched data
        files are never rewritten, so the cost follows the change, not the table. The commit
        fails (and nothing changes) if another writer committed in between.
        """
        from ppstack.engine.iceberg import conform
        from ppstack.engine.merge_on_read import FILE, POS, commit_row_changes

        target = router.table_of(tree.this)
        ns, name = router.qualified(target)
        if self.registry.get(ns, name) is not None:
            raise EngineError(f"{ns}.{name} is an external (Hive) table: "
                              f"{type(tree).__name__.upper()} needs an Iceberg table")
        if isinstance(tree, exp.Merge):
            for when in tree.args["whens"].expressions:
                if when.args.get("source"):
                    raise EngineError("WHEN NOT MATCHED BY SOURCE is not part of Athena's "
                                      "MERGE grammar")
        ice = self.iceberg.load(ns, name)
        base = self.iceberg.scan(ice)
        columns = [f.name for f in ice.schema().fields]
        self._bind_reads(tree, cleanup, skip=target)
        scratch = self._name("tgt")
        self._copy_candidates(tree, target, base.sql(positions=True), scratch)
        self._on_cleanup(cleanup, f"DROP TABLE IF EXISTS {scratch}")
        self._on_cleanup(cleanup, f"DROP TABLE IF EXISTS {scratch}_before")
        self.con.execute(f"CREATE TEMP TABLE {scratch}_before AS SELECT {FILE}, {POS} "
                         f"FROM {scratch}")
        before = int(self.con.execute(f"SELECT count(*) FROM {scratch}").fetchall()[0][0])
        _rebind(target, scratch, name)
        _flag_row_changes(tree, columns)
        try:
            n = int(self.con.execute(self._duck(tree)).fetchall()[0][0])
        except duckdb.InvalidInputException as e:
            if "more than once" in str(e):
                raise EngineError("MERGE_TARGET_ROW_MULTIPLE_MATCHES: one target row matched "
                                  "more than one source row; make the MERGE source unique per "
                                  "key") from e
            raise
        if n == 0:
            return Result(rowcount=0)  # nothing changed: no commit, no snapshot
        cols = ", ".join(f'"{c}"' for c in columns)
        added = self.con.sql(f"SELECT {cols} FROM {scratch} WHERE {_TOUCHED} OR {FILE} IS NULL"
                             ).to_arrow_table()
        removed_sql = f"SELECT {FILE}, {POS} FROM {scratch} WHERE {_TOUCHED}"
        kept = self.con.execute(f"SELECT count(*) FROM {scratch} WHERE {FILE} IS NOT NULL"
                                ).fetchall()
        if int(kept[0][0]) < before:  # rows were deleted
            removed_sql += (f" UNION ALL (SELECT {FILE}, {POS} FROM {scratch}_before"
                            f" EXCEPT SELECT {FILE}, {POS} FROM {scratch}"
                            f" WHERE {FILE} IS NOT NULL)")
        removed = self.con.sql(removed_sql).to_arrow_table()
        try:
            commit_row_changes(ice, base, removed, conform(added, ice.schema()))
        except Exception as e:
            from ppstack.engine.iceberg import _commit_error

            raise _commit_error(ice, e) from e
        return Result(rowcount=n)

    def _copy_candidates(self, tree: exp.Expr, target: exp.Table, rows_sql: str,
                         scratch: str) -> None:
        """``scratch`` := the target rows the statement can touch, flagged untouched: for a
        MERGE the rows some source row matches (its ON condition), for UPDATE / DELETE the rows
        its WHERE selects. Rows outside that set are neither matched nor changed, so leaving
        them out changes nothing but the size of the copy (a daily batch closes a few thousand
        of ~180,000 rows). When the condition cannot be evaluated apart from the statement,
        every row is copied and the statement itself decides."""
        alias = exp.to_identifier(target.alias_or_name).sql("duckdb")
        copy = f"SELECT *, false AS {_TOUCHED} FROM ({rows_sql}) AS {alias}"
        condition: exp.Expr | None = None
        if isinstance(tree, exp.Merge):
            condition = exp.Exists(this=exp.select("1").from_(tree.args["using"].copy())
                                   .where(tree.args["on"].copy()))
        elif tree.args.get("where") is not None:
            condition = tree.args["where"].this.copy()
        if condition is not None:
            try:
                self.con.execute(f"CREATE TEMP TABLE {scratch} AS {copy} "
                                 f"WHERE {self._duck(condition)}")
                return
            except duckdb.Error:
                self.con.execute(f"DROP TABLE IF EXISTS {scratch}")
        self.con.execute(f"CREATE TEMP TABLE {scratch} AS {copy}")

    def _show(self, tree: exp.Command, cleanup: Cleanup) -> Result:
        import fnmatch
        import re

        what = tree.expression
        text = str(what.name if isinstance(what, exp.Literal) else what)
        m = re.match(r"^\s*TABLES(?:\s+(?:IN|FROM)\s+`?(\w+)`?)?(?:\s+(?:LIKE\s+)?'([^']*)')?\s*$",
                     text, re.I)
        if m:
            db, pattern = (m.group(1) or "").lower(), m.group(2)
            dbs = [db] if db else sorted(set(self.registry.databases()) | set(self._namespaces()))
            rows = []
            for d in dbs:
                names = sorted(set(self.registry.tables(d)) | set(self._iceberg_tables(d)))
                rows += [(n if db else f"{d}.{n}",) for n in names
                         if pattern is None
                         or any(fnmatch.fnmatch(n, p.strip()) for p in pattern.split("|"))]
            return Result(columns=["tab_name"], rows=rows)
        if re.match(r"^\s*(DATABASES|SCHEMAS)\s*$", text, re.I):
            names = sorted(set(self.registry.databases()) | set(self._namespaces()))
            return Result(columns=["database_name"], rows=[(n,) for n in names])
        first = text.split()[0].upper() if text.split() else ""
        raise EngineError(f"unsupported statement kind: SHOW {first}")

    def _namespaces(self) -> list[str]:
        return self.iceberg.namespaces() if self._warehouse.exists() else []

    def _iceberg_tables(self, ns: str) -> list[str]:
        return self.iceberg.tables(ns) if self._warehouse.exists() else []

    def _describe(self, tree: exp.Describe, cleanup: Cleanup) -> Result:
        ns, name = router.qualified(router.table_of(tree.this))
        definition = self.registry.get(ns, name)
        if definition is not None:
            rows = [(c, t, "") for c, t in definition.columns]
            rows += [(c, t, "partition key") for c, t in definition.partition_keys]
        elif self._is_iceberg(ns, name):
            ice = self.iceberg.load(ns, name)
            rows = [(f.name, _iceberg_type_name(f.field_type), "") for f in ice.schema().fields]
        else:
            raise EngineError(f"table {ns}.{name} does not exist (TABLE_NOT_FOUND)")
        return Result(columns=["col_name", "data_type", "extra"], rows=rows)

    def _add_columns(self, tree: exp.Alter, cleanup: Cleanup) -> Result:
        """``ALTER TABLE t ADD COLUMNS (c type, ...)`` on a Glue external or an Iceberg table.

        Columns that already exist are refused, as Athena refuses them; readers of older files
        see NULL in a new column (external tables read by name, Iceberg by field id).
        """
        ns, name = router.qualified(router.table_of(tree.this))
        new = [c for action in tree.args["actions"] for c in router.column_defs(action)]
        definition = self.registry.get(ns, name)
        if definition is not None:
            have = {c for c, _t in definition.all_columns}
        elif self._is_iceberg(ns, name):
            have = {f.name for f in self.iceberg.load(ns, name).schema().fields}
        else:
            raise EngineError(f"table {ns}.{name} does not exist (TABLE_NOT_FOUND)")
        taken = sorted(c for c, _t in new if c in have)
        if taken:
            raise EngineError(f"column {', '.join(taken)} already exists in {ns}.{name}")
        if definition is not None:
            definition.columns += [[c, router.athena_type(t)] for c, t in new]
            self.registry.replace(definition)
        else:
            self.iceberg.add_columns(ns, name, new)
        return Result()

    _handlers: dict[Kind, Callable[..., Result]] = {
        Kind.QUERY: _query,
        Kind.CREATE_DATABASE: _create_database,
        Kind.CREATE_EXTERNAL_TABLE: _create_external,
        Kind.CREATE_ICEBERG_TABLE: _create_iceberg,
        Kind.CTAS: _ctas,
        Kind.DROP_TABLE: _drop,
        Kind.INSERT: _insert,
        Kind.MERGE: _modify,
        Kind.UPDATE: _modify,
        Kind.DELETE: _modify,
        Kind.SHOW: _show,
        Kind.DESCRIBE: _describe,
        Kind.ADD_COLUMNS: _add_columns,
    }


_TOUCHED = "__touched"  # set by every UPDATE of a row-level statement (see _modify)


def _flag_row_changes(tree: exp.Expr, columns: list[str]) -> None:
    """Make a MERGE / UPDATE mark the rows it updates (``__touched = true``), and give a MERGE's
    INSERT its explicit column list (the target copy has extra columns at the end)."""
    flag = exp.EQ(this=exp.column(_TOUCHED), expression=exp.true())
    if isinstance(tree, exp.Update):
        tree.append("expressions", flag)
        return
    if not isinstance(tree, exp.Merge):
        return
    for when in tree.args["whens"].expressions:
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            then.append("expressions", flag.copy())
        elif isinstance(then, exp.Insert) and then.this is None:
            then.set("this", exp.Tuple(expressions=[exp.column(c) for c in columns]))


def _inline_single_use_ctes(tree: exp.Expr) -> None:
    """Mark every CTE that the statement names at most once ``NOT MATERIALIZED``.

    Athena (Trino) inlines every WITH query. DuckDB may materialise one instead, and it does so
    for a CTE named once whose reader is itself read twice (the staging CTAS's "flagged", under
    the two branches of "ranked"): the whole cleaned batch is then held in memory a second time
    (about 90 MB of the daily batch's peak) for no saving, since the rows are read once either
    way. A CTE named two or more times is left to DuckDB, which materialises it when that saves
    work (the staging CTAS's "keyed": the join and the NDC regexes, read by two CTEs). Inlining
    a CTE that is named once cannot change a result: its rows feed one reader either way.
    """
    for with_ in list(tree.find_all(exp.With)):
        owner = with_.parent if with_.parent is not None else with_
        uses = Counter(t.name.lower() for t in owner.find_all(exp.Table) if not t.db)
        for cte in with_.expressions:
            if isinstance(cte, exp.CTE) and uses[cte.alias.lower()] <= 1:
                cte.set("materialized", False)


def _rebind(table: exp.Table, relation: str, alias: str | None) -> None:
    """Make ``table`` name DuckDB ``relation``, keeping its alias (or its old name as the alias)."""
    old = table.name
    table.set("this", exp.to_identifier(relation))
    table.set("db", None)
    table.set("catalog", None)
    table.set("version", None)
    if alias is not None and not table.alias:
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias or old)))


def _iceberg_type_name(t: Any) -> str:
    name = str(t)
    return {"long": "bigint", "int": "int", "integer": "int"}.get(name, name)


def _duckdb_message(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__
