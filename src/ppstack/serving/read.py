"""Reading conformed rows for layer 4, only through the SQL engine port and the SQL templates."""

from __future__ import annotations

from typing import Any

from ppstack.entities import get_entity
from ppstack.entities.spec import EntitySpec
from ppstack.layout import check_batch_id
from ppstack.sql import literal, render
from ppstack.sql.params import entity_params

BATCH_TEMPLATE = "select_conformed_batch"
ALL_TEMPLATE = "select_conformed_all"


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
