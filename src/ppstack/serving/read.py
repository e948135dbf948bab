"""Reading conformed rows for layer 4, only through the SQL engine port and the SQL templates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ppstack.entities import get_entity
from ppstack.entities.spec import EntitySpec
from ppstack.layout import check_batch_id
from ppstack.serving.retry import chunked
from ppstack.sql import literal, render
from ppstack.sql.params import conformed_table_params, entity_params

BATCH_TEMPLATE = "select_conformed_batch"
ALL_TEMPLATE = "select_conformed_all"
KEYS_TEMPLATE = "select_conformed_keys"
RANGE_TEMPLATE = "select_conformed_range"
# Keys per range of ``key_ranges``: rows, items and writes of one range are held at once.
DEFAULT_RANGE_KEYS = 5_000


def as_spec(entity: EntitySpec | str) -> EntitySpec:
    """Callers may pass a spec or an entity type name ("DRUG")."""
    return entity if isinstance(entity, EntitySpec) else get_entity(entity)


def batch_sql(spec: EntitySpec, engine: Any, bucket: str, batch_id: str) -> str:
    params = entity_params(spec, engine, bucket)
    params["batch_id"] = literal(check_batch_id(batch_id))
    return render(BATCH_TEMPLATE, params)


def all_sql(spec: EntitySpec, engine: Any, bucket: str) -> str:
    return render(ALL_TEMPLATE, entity_params(spec, engine, bucket))


def batch_rows(rt: Any, spec: EntitySpec, batch_id: str) -> list[dict[str, Any]]:
    """Rows of ``conformed.<entity>`` whose ingestion_batch_id is ``batch_id``."""
    return rt.engine.execute(batch_sql(spec, rt.engine, rt.settings.bucket, batch_id)).dicts()


def all_rows(rt: Any, spec: EntitySpec) -> list[dict[str, Any]]:
    """Every row of ``conformed.<entity>``."""
    return rt.engine.execute(all_sql(spec, rt.engine, rt.settings.bucket)).dicts()


def batch_dates(rt: Any, spec: EntitySpec) -> dict[str, str]:
    """Effective date -> id of the batch that applied it to ``conformed``, from the batch ledger
    (a later batch of the same date, e.g. a replay's, wins): names the batch of a change that no
    conformed row records (``serving.changes``)."""
    from ppstack.pipeline.ledger import BATCH, Ledger

    out: dict[str, str] = {}
    for record in Ledger(rt.store).list(spec.name):
        if record.kind == BATCH and record.reached("inserted"):  # not a replay's own record
            out[record.ingest_date] = record.batch_id
    return out


def _table_params(rt: Any, spec: EntitySpec, table: str | None) -> dict[str, str]:
    params = entity_params(spec, rt.engine, rt.settings.bucket)
    if table is not None:  # another table of the entity (the one a replay rebuilds)
        params.update(conformed_table_params(rt.engine, table))
    return params


def key_ranges(rt: Any, spec: EntitySpec, size: int = DEFAULT_RANGE_KEYS,
               table: str | None = None) -> list[tuple[str, str, int]]:
    """The table's keys cut into ranges of ``size`` keys: (first, last, keys in it), in order."""
    result = rt.engine.execute(render(KEYS_TEMPLATE, _table_params(rt, spec, table)))
    keys = sorted(str(k) for (k,) in result.rows)  # one order, whatever the engine's collation
    return [(part[0], part[-1], len(part)) for part in chunked(keys, size)]


def range_rows(rt: Any, spec: EntitySpec, first: str, last: str,
               table: str | None = None) -> list[dict[str, Any]]:
    """Every row of the keys from ``first`` to ``last`` (both included)."""
    params = _table_params(rt, spec, table)
    params.update(first_key=literal(first), last_key=literal(last))
    return rt.engine.execute(render(RANGE_TEMPLATE, params)).dicts()


def rows_by_range(rt: Any, spec: EntitySpec, size: int = DEFAULT_RANGE_KEYS,
                  table: str | None = None) -> Iterator[list[dict[str, Any]]]:
    """Every row of the table, one key range at a time (no key split between two ranges)."""
    for first, last, _n in key_ranges(rt, spec, size, table):
        yield range_rows(rt, spec, first, last, table)
