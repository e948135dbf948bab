"""``ppstack lineage ENTITY ID``: where every version of one entity came from.

Joins three records that each keep their own part of the story:

- the conformed table: each version's interval, the batch that opened it (``opened_batch_id``),
  the batch that closed it (a closed version's ``ingestion_batch_id``) and the archived file and
  row it was read from (``_source_file`` / ``_source_row``, carried through staging);
- the batch ledger: which delivery (source, date) each batch applied, and the archived raw files
  of that delivery with their key, sha256 and size.
"""

from __future__ import annotations

from typing import Any

from ppstack.backends import Runtime
from ppstack.entities import get_entity
from ppstack.entities.spec import EntitySpec
from ppstack.errors import NotFound
from ppstack.pipeline.ledger import Ledger
from ppstack.serving.keys import KEY_NORMALIZERS
from ppstack.sql import literal, render
from ppstack.sql.params import entity_params


def _day(value: Any) -> str | None:
    return None if value is None else str(value)[:10]


def lineage(rt: Runtime, entity: EntitySpec | str, raw_id: str) -> list[dict[str, Any]]:
    """One dict per version, oldest first; NotFound when the entity has no version at all."""
    spec = get_entity(entity) if isinstance(entity, str) else entity
    entity_id = KEY_NORMALIZERS[spec.key_format](raw_id) or raw_id.strip()
    params = entity_params(spec, rt.engine, rt.settings.bucket)
    params["entity_id"] = literal(entity_id)
    rows = rt.engine.execute(render("select_lineage", params)).dicts()
    if not rows:
        raise NotFound(f"{spec.name} {entity_id} has no version in conformed.{spec.lname}")
    batches = {r.batch_id: r for r in Ledger(rt.store).list(spec.name)}
    out = []
    for r in rows:
        opened = batches.get(str(r["opened_batch_id"])) if r["opened_batch_id"] else None
        source_file = r["_source_file"]
        raw = [f for f in (opened.raw if opened else [])
               if source_file and _names_file(str(f.get("key", "")), str(source_file))]
        out.append({
            "entity_id": entity_id,
            "active_from": _day(r["active_from"]),
            "active_to": _day(r["active_to"]),
            "is_current": bool(r["is_current"]),
            "fingerprint": r["fingerprint"],
            "opened_batch_id": r["opened_batch_id"],
            "opened_by": _delivery(opened),
            "closed_batch_id": r["closed_batch_id"],
            "closed_by": _delivery(batches.get(str(r["closed_batch_id"]))),
            "source_file": source_file,
            "source_row": r["_source_row"],
            "raw_files": raw or (opened.raw if opened else []),
        })
    return out


def _names_file(key: str, source_file: str) -> bool:
    """Whether archived ``key`` is the file ``_source_file`` names (``ndctext.zip!package.txt``
    is a member of ``…/ndctext.zip``)."""
    return key.rsplit("/", 1)[-1] == source_file.split("!", 1)[0]


def _delivery(record: Any) -> str | None:
    if record is None:
        return None
    how = f" (replay {record.replay_id})" if record.replay_id else ""
    return f"{record.source} {record.ingest_date}{how}"
