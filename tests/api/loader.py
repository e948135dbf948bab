"""Test data for the API: real FDA rows turned into serving-table items in the documented shape.

The tests load their data with the real pipeline (``load_scenario``: archive -> stage -> close ->
insert -> sync over three dated deliveries cut from the real extract in ``data/``). The
projection-based ``load_scenario_items`` builds the same items without the pipeline, for the
benchmark that loads thousands of drugs quickly.

- ``load_scenario(settings) -> Scenario``: the pipeline fills the settings' table;
- ``Scenario``: the ids and expectations the tests assert on (current ids, the logically deleted
  id, the id with three versions and their ``effective_from`` dates).

The loader builds the conformed SCD2 rows the pipeline would produce and turns them into items
with the sync worker's own projection (``ppstack.serving.projection.project``), so the items are
exactly the sync's: ``V#CURRENT`` / ``V#<active_from>`` and ``SEARCH#DRUG`` tokens.

Scenario (three simulated daily batches, effective 2019-01-01, 2019-02-01, 2019-04-29):
every extract package is inserted by batch 1; Strattera 0002-3227-30 changes in batches 2 and 3
(three versions); one atomoxetine package disappears in batch 3 (logical delete).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppstack.entities import DRUG, EntitySpec
from ppstack.entities.spec import OPEN_END
from ppstack.serving.keys import normalize_ndc
from ppstack.serving.projection import Item, project
from ppstack.serving.retry import BATCH_WRITE_MAX, batch_write, chunked

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


def read_drug_rows(data_dir: Path = DATA_DIR, product: Path | None = None,
                   package: Path | None = None) -> list[dict[str, str | None]]:
    """Package rows joined to product rows (NDC_EXCLUDE_FLAG = 'N'), as DRUG business fields.

    Reads ``data_dir``/product.txt and package.txt unless explicit files are given (the bench
    passes the full dated FDA files).
    """
    products = {p["PRODUCTID"]: p for p in _read_tsv(product or data_dir / "product.txt")
                if p.get("NDC_EXCLUDE_FLAG") == "N"}
    rows: dict[str, dict[str, str | None]] = {}
    for pk in _read_tsv(package or data_dir / "package.txt"):
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
    """DESIGN.md "2. Staging": md5 over the business fields in declared order, '|' joined."""
    text = "|".join(row.get(f) or "" for f in spec.field_names)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def conformed_row(spec: EntitySpec, row: dict[str, Any], active_from: str, active_to: str,
                  batch_id: str) -> dict[str, Any]:
    """One SCD2 row of ``conformed.<entity>`` (the columns the sync reads)."""
    return {**row, "active_from": active_from, "active_to": active_to,
            "is_current": active_to == OPEN_END, "fingerprint": fingerprint(spec, row),
            "ingestion_batch_id": batch_id}


@dataclass
class Scenario:
    current_ids: list[str]  # every id whose V#CURRENT has is_current = true, ascending
    deleted_id: str
    history_id: str
    history_from: list[str]  # effective_from of every version of history_id, in order
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> current business fields


def scenario_rows(rows: list[dict[str, Any]], spec: EntitySpec = DRUG) -> tuple[list[dict[str, Any]], Scenario]:
    """The conformed table after the three batches, and what the tests should see."""
    (d1, b1), (d2, b2), (d3, b3) = BATCHES
    conformed: list[dict[str, Any]] = []
    current: dict[str, dict[str, Any]] = {}
    for row in rows:
        eid = row[spec.key]
        if eid == HISTORY_ID:
            v1 = {**row, "package_description": "30 CAPSULE in 1 BOTTLE, PLASTIC (0002-3227-30)"}
            v2 = {**row, "labeler_name": "Eli Lilly & Company"}
            conformed.append(conformed_row(spec, v1, d1, d2, b2))
            conformed.append(conformed_row(spec, v2, d2, d3, b3))
            conformed.append(conformed_row(spec, row, d3, OPEN_END, b3))
        elif eid == DELETED_ID:
            conformed.append(conformed_row(spec, row, d1, d3, b3))
            continue
        else:
            conformed.append(conformed_row(spec, row, d1, OPEN_END, b1))
        current[eid] = row
    ids = {r[spec.key] for r in rows}
    assert HISTORY_ID in ids and DELETED_ID in ids, "extract lacks the scenario's drugs"
    return conformed, Scenario(
        current_ids=sorted(current), deleted_id=DELETED_ID, history_id=HISTORY_ID,
        history_from=[d1, d2, d3], rows=current,
    )


def scenario_items(rows: list[dict[str, Any]], spec: EntitySpec = DRUG) -> tuple[list[Item], Scenario]:
    """Serving items exactly as the sync (``serving.projection``) derives them from conformed rows."""
    conformed, scenario = scenario_rows(rows, spec)
    return list(project(spec, conformed).values()), scenario


def load_items(client: Any, table: str, items: list[Item]) -> int:
    """BatchWriteItem puts of attribute-value items (with the sync's retry rules); returns the count."""
    for chunk in chunked(items, BATCH_WRITE_MAX):
        batch_write(client, table, [{"PutRequest": {"Item": it}} for it in chunk])
    return len(items)


def load_scenario_items(client: Any, table: str, data_dir: Path = DATA_DIR) -> Scenario:
    """The fast path for benchmarks: the projected items written directly (no pipeline)."""
    items, scenario = scenario_items(read_drug_rows(data_dir))
    load_items(client, table, items)
    return scenario


# ---- the real pipeline ------------------------------------------------------------------------

def _edit_line(lines: list[bytes], startswith: bytes, column: int, value: bytes) -> None:
    for i, line in enumerate(lines):
        if line.startswith(startswith):
            fields = line.split(b"\t")
            fields[column] = value
            lines[i] = b"\t".join(fields)
            return
    raise AssertionError(f"no line starting with {startswith!r}")


def scenario_deliveries(data_dir: Path, out_dir: Path) -> list[tuple[str, Path, Path]]:
    """Three dated FDA deliveries (source format kept) that produce the scenario through SCD2.

    - batch 1: Strattera 0002-3227-30 with an older package description;
    - batch 2: its description as today, its labeler spelled "Eli Lilly & Company" (changed);
    - batch 3: the real files, minus package 0002-3228-30 (logically deleted).
    """
    product = (data_dir / "product.txt").read_bytes().split(b"\r\n")
    package = (data_dir / "package.txt").read_bytes().split(b"\r\n")
    p_head = product[0].split(b"\t")
    k_head = package[0].split(b"\t")
    desc, labeler = k_head.index(b"PACKAGEDESCRIPTION"), p_head.index(b"LABELERNAME")
    v1_package = list(package)
    _edit_line(v1_package, b"0002-3227_", desc, b"30 CAPSULE in 1 BOTTLE, PLASTIC (0002-3227-30)")
    v2_product = list(product)
    _edit_line(v2_product, b"0002-3227_", labeler, b"Eli Lilly & Company")
    v3_package = [line for line in package if b"\t0002-3228-30\t" not in line]
    versions = ((product, v1_package), (v2_product, package), (product, v3_package))
    out = []
    for (date, _batch), (prod, pack) in zip(BATCHES, versions, strict=True):
        d = out_dir / date
        d.mkdir(parents=True, exist_ok=True)
        (d / "product.txt").write_bytes(b"\r\n".join(prod))
        (d / "package.txt").write_bytes(b"\r\n".join(pack))
        out.append((date, d / "product.txt", d / "package.txt"))
    return out


def load_scenario(settings: Any, data_dir: Path = DATA_DIR) -> Scenario:
    """Run the real pipeline (archive -> stage -> close -> insert -> sync) over three deliveries
    into ``settings``' home and DynamoDB table, and read the expectations back from conformed."""
    from ppstack.backends import Runtime
    from ppstack.entities import get_source
    from ppstack.pipeline.run import run_batch
    from ppstack.raw.archive import archive

    rt = Runtime(settings)
    try:
        source = get_source(DRUG, "FDA_NDC")
        for date, product, package in scenario_deliveries(data_dir, settings.home_path / "deliveries"):
            archive(rt, DRUG, source, [product, package], date)
            record = run_batch(rt, DRUG, "FDA_NDC", date)
            assert record.state == "synced", record
        cols = ", ".join(DRUG.field_names)
        current = rt.engine.execute(
            f"SELECT {cols} FROM conformed.drug WHERE is_current ORDER BY ndc").dicts()
        versions = rt.engine.execute(
            f"SELECT CAST(active_from AS varchar) AS f FROM conformed.drug "
            f"WHERE ndc = '{HISTORY_ID}' ORDER BY active_from").dicts()
    finally:
        rt.close()
    rows = {r["ndc"]: {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in current}
    assert DELETED_ID not in rows and HISTORY_ID in rows
    return Scenario(current_ids=sorted(rows), deleted_id=DELETED_ID, history_id=HISTORY_ID,
                    history_from=[v["f"] for v in versions], rows=rows)
