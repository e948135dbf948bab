"""Test data for the API: real FDA rows turned into serving-table items in the documented shape.

This is a stand-in for the real pipeline (archive -> stage -> conform -> sync). Its interface is
what the API tests use and what a pipeline-backed version must keep:

- ``load_scenario(client, table) -> Scenario``: fill ``table`` with the scenario's items;
- ``Scenario``: the ids and expectations the tests assert on (current ids, the logically deleted
  id, the id with three versions and their ``effective_from`` dates).

Items follow DESIGN.md "4. DynamoDB serving" and the sync worker's contract: ``V#CURRENT`` and
``V#<active_from>`` items with the item attributes and the business fields (NULL omitted), and
``SEARCH#DRUG`` token items for current rows only, built with ``ppstack.serving.keys``.

Scenario (three simulated daily batches, effective 2019-01-01, 2019-02-01, 2019-04-29):
every extract package is inserted by batch 1; Strattera 0002-3227-30 changes in batches 2 and 3
(three versions); one atomoxetine package disappears in batch 3 (logical delete).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppstack.entities import DRUG, EntitySpec
from ppstack.entities.spec import OPEN_END
from ppstack.serving.keys import (
    CURRENT_SK,
    entity_tokens,
    history_sk,
    item_pk,
    normalize_ndc,
    search_pk,
)

DATA_DIR = Path(__file__).parent / "data"
BATCHES = (
    ("2019-01-01", "20190101T060000.000000Z"),
    ("2019-02-01", "20190201T060000.000000Z"),
    ("2019-04-29", "20190429T060000.000000Z"),
)
HISTORY_ID = "00002322730"  # Strattera 10 mg, 30 capsules: three versions
DELETED_ID = "00002322830"  # Strattera 25 mg, 30 capsules: logically deleted by batch 3


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None


def _date(value: str | None) -> str | None:
    v = (value or "").strip()
    return f"{v[:4]}-{v[4:6]}-{v[6:8]}" if re.fullmatch(r"\d{8}", v) else None


def _strength(numerators: str | None, units: str | None) -> str | None:
    nums = [n.strip() for n in (numerators or "").split(";")]
    unts = [u.strip() for u in (units or "").split(";")]
    if not (numerators or "").strip():
        return None
    if len(nums) != len(unts):
        return _clean(f"{numerators} {units}")
    return "; ".join(f"{n} {u}" for n, u in zip(nums, unts, strict=True))


def _read_tsv(path: Path) -> Iterator[dict[str, str]]:
    lines = path.read_bytes().decode("cp1252").split("\r\n")
    header = lines[0].split("\t")
    for line in lines[1:]:
        if line:
            yield dict(zip(header, line.split("\t"), strict=False))


def read_drug_rows(data_dir: Path = DATA_DIR) -> list[dict[str, str | None]]:
    """Package rows joined to product rows (NDC_EXCLUDE_FLAG = 'N'), as DRUG business fields."""
    products = {p["PRODUCTID"]: p for p in _read_tsv(data_dir / "product.txt")
                if p.get("NDC_EXCLUDE_FLAG") == "N"}
    rows: dict[str, dict[str, str | None]] = {}
    for pk in _read_tsv(data_dir / "package.txt"):
        p = products.get(pk["PRODUCTID"])
        ndc = normalize_ndc(pk["NDCPACKAGECODE"])
        if p is None or ndc is None:
            continue
        rows.setdefault(ndc, {
            "ndc": ndc,
            "proprietary_name": _clean(p["PROPRIETARYNAME"]),
            "ingredient_list": _clean(p["SUBSTANCENAME"]),
            "strength": _strength(p["ACTIVE_NUMERATOR_STRENGTH"], p["ACTIVE_INGRED_UNIT"]),
            "route": _clean(p["ROUTENAME"]),
            "nonproprietary_name": _clean(p["NONPROPRIETARYNAME"]),
            "dosage_form": _clean(p["DOSAGEFORMNAME"]),
            "labeler_name": _clean(p["LABELERNAME"]),
            "product_ndc": _clean(p["PRODUCTNDC"]),
            "package_ndc": _clean(pk["NDCPACKAGECODE"]),
            "package_description": _clean(pk["PACKAGEDESCRIPTION"]),
            "product_type": _clean(p["PRODUCTTYPENAME"]),
            "marketing_category": _clean(p["MARKETINGCATEGORYNAME"]),
            "application_number": _clean(p["APPLICATIONNUMBER"]),
            "dea_schedule": _clean(p["DEASCHEDULE"]),
            "marketing_start_date": _date(p["STARTMARKETINGDATE"]),
            "marketing_end_date": _date(p["ENDMARKETINGDATE"]),
        })
    return [rows[k] for k in sorted(rows)]


def fingerprint(spec: EntitySpec, row: dict[str, Any]) -> str:
    text = "|".join(row.get(f) or "" for f in spec.field_names)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def version_item(spec: EntitySpec, row: dict[str, Any], sk: str, effective_from: str,
                 effective_to: str, batch_id: str) -> dict[str, Any]:
    """One entity item as plain Python values (``None`` = attribute omitted)."""
    entity_id = row[spec.key]
    return {
        "PK": item_pk(spec.name, entity_id),
        "SK": sk,
        "entity_type": spec.name,
        "entity_id": entity_id,
        "effective_from": effective_from,
        "effective_to": effective_to,
        "is_current": effective_to == OPEN_END,
        "fingerprint": fingerprint(spec, row),
        "last_ingestion_batch_id": batch_id,
        **{f: row.get(f) for f in spec.field_names},
    }


def token_items(spec: EntitySpec, row: dict[str, Any]) -> list[dict[str, Any]]:
    entity_id = row[spec.key]
    return [{"PK": search_pk(spec.name), "SK": sk, "entity_id": entity_id}
            for sk in sorted(entity_tokens(spec.name, entity_id, row, spec.search_fields))]


@dataclass
class Scenario:
    current_ids: list[str]  # every id whose V#CURRENT has is_current = true, ascending
    deleted_id: str
    history_id: str
    history_from: list[str]  # effective_from of every version of history_id, in order
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> current business fields


def scenario_items(rows: list[dict[str, Any]], spec: EntitySpec = DRUG) -> tuple[list[dict[str, Any]], Scenario]:
    (d1, b1), (d2, b2), (d3, b3) = BATCHES
    items: list[dict[str, Any]] = []
    current: dict[str, dict[str, Any]] = {}
    for row in rows:
        eid = row[spec.key]
        if eid == HISTORY_ID:
            v1 = {**row, "package_description": "30 CAPSULE in 1 BOTTLE, PLASTIC (0002-3227-30)"}
            v2 = {**row, "labeler_name": "Eli Lilly & Company"}
            items.append(version_item(spec, v1, history_sk(d1), d1, d2, b2))
            items.append(version_item(spec, v2, history_sk(d2), d2, d3, b3))
            items.append(version_item(spec, row, CURRENT_SK, d3, OPEN_END, b3))
        elif eid == DELETED_ID:
            items.append(version_item(spec, row, history_sk(d1), d1, d3, b3))
            items.append(version_item(spec, row, CURRENT_SK, d1, d3, b3))
            continue  # no tokens: only current rows are searchable
        else:
            items.append(version_item(spec, row, CURRENT_SK, d1, OPEN_END, b1))
        current[eid] = row
        items.extend(token_items(spec, row))
    ids = {r[spec.key] for r in rows}
    assert HISTORY_ID in ids and DELETED_ID in ids, "extract lacks the scenario's drugs"
    return items, Scenario(
        current_ids=sorted(current), deleted_id=DELETED_ID, history_id=HISTORY_ID,
        history_from=[d1, d2, d3], rows=current,
    )


def _av(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    return {"S": str(value)}


def _chunks(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def load_items(client: Any, table: str, items: list[dict[str, Any]]) -> int:
    """BatchWriteItem puts of plain-value items (``None`` attributes omitted); returns the count."""
    for chunk in _chunks(items, 25):
        request = {table: [{"PutRequest": {"Item": {k: _av(v) for k, v in it.items() if v is not None}}}
                           for it in chunk]}
        for attempt in range(10):
            unprocessed = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not unprocessed:
                break
            request = unprocessed
            time.sleep(0.01 * 2**attempt)
        else:
            raise RuntimeError("BatchWriteItem kept returning unprocessed items")
    return len(items)


def load_scenario(client: Any, table: str, data_dir: Path = DATA_DIR) -> Scenario:
    items, scenario = scenario_items(read_drug_rows(data_dir))
    load_items(client, table, items)
    return scenario
