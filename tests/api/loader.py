"""Test data for the API: the real pipeline over three dated deliveries of a real extract.

``load_scenario(settings)`` runs archive -> stage -> close -> insert -> sync for three deliveries
cut from the real FDA extract in ``data/`` (``scenario_deliveries``) into the settings' home and
DynamoDB table, and returns the ``Scenario`` the tests assert on: the current ids, the logically
deleted id, and the id with three versions with their ``effective_from`` dates.

Scenario (effective 2019-01-01, 2019-02-01, 2019-04-29): every extract package is inserted by
batch 1; Strattera 0002-3227-30 changes in batches 2 and 3 (three versions); Strattera
0002-3228-30 disappears in batch 3 (logical delete).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppstack.entities import DRUG

DATA_DIR = Path(__file__).parent / "data"
BATCHES = (
    ("2019-01-01", "20190101T060000.000000Z"),
    ("2019-02-01", "20190201T060000.000000Z"),
    ("2019-04-29", "20190429T060000.000000Z"),
)
HISTORY_ID = "00002322730"  # Strattera 10 mg, 30 capsules: three versions
DELETED_ID = "00002322830"  # Strattera 25 mg, 30 capsules: logically deleted by batch 3


@dataclass
class Scenario:
    current_ids: list[str]  # every id whose V#CURRENT has is_current = true, ascending
    deleted_id: str
    history_id: str
    history_from: list[str]  # effective_from of every version of history_id, in order
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> current business fields


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
        for date, product, package in scenario_deliveries(data_dir,
                                                          settings.home_path / "deliveries"):
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
