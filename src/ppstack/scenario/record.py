"""What a derived scenario is: its deliveries, the events of each date and the expected keys.

``derive_scenario`` writes this record as ``scenario.json`` (plus one expected-keys file per
date) beside the files, and ``load_scenario`` reads it back, so a test, the demo or a benchmark
can compare what the pipeline did with what the scenario says it should do.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ppstack.errors import BadInput

SCENARIO_FILE = "scenario.json"


@dataclass(frozen=True)
class PackageRef:
    ndc: str  # as published, e.g. '0002-3227-30'
    ndc11: str  # normalised, e.g. '00002322730'


@dataclass(frozen=True)
class New(PackageRef):
    origin: str  # 'held_back' (in the source, kept out until now) or 'new_package' (derived)


@dataclass(frozen=True)
class Change(PackageRef):
    product_id: str
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class Reactivation(PackageRef):
    dropped_on: str  # the date it disappeared
    changed_fields: tuple[str, ...]  # columns differing from the row as last published


@dataclass
class Snapshot:
    """One delivery: its files, the events relative to the previous date and the expected keys."""

    date: str
    product_file: str  # relative to the scenario directory
    package_file: str
    product_rows: int
    package_rows: int
    expected_rows: int  # package rows joined to an 'N' product with a normalising NDC
    expected_keys: frozenset[str]  # distinct 11-digit NDCs of those rows: the DRUG keys staged
    rejected: int = 0  # 'N' rows staging rejects: NDC does not normalise or fit its product
    new: list[New] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    disappeared: list[PackageRef] = field(default_factory=list)
    reactivated: list[Reactivation] = field(default_factory=list)
    duplicates: list[PackageRef] = field(default_factory=list)
    unchanged: int = 0

    def counts(self) -> dict[str, int | str]:
        return {
            "date": self.date, "product_rows": self.product_rows,
            "package_rows": self.package_rows, "keys": len(self.expected_keys),
            "new": len(self.new), "changed": len({c.ndc11 for c in self.changed}),
            "disappeared": len(self.disappeared), "reactivated": len(self.reactivated),
            "duplicates": len(self.duplicates), "unchanged": self.unchanged,
        }


@dataclass
class Scenario:
    out_dir: Path
    seed: int
    params: dict[str, float]
    source: dict[str, dict[str, str]]  # member -> {path, sha256}
    snapshots: list[Snapshot]
    held_back: list[PackageRef] = field(default_factory=list)  # never released

    def snapshot(self, date: str) -> Snapshot:
        for s in self.snapshots:
            if s.date == date:
                return s
        raise KeyError(date)

    def files(self, date: str) -> tuple[Path, Path]:
        s = self.snapshot(date)
        return self.out_dir / s.product_file, self.out_dir / s.package_file

    def to_dict(self) -> dict:
        snaps = []
        for s in self.snapshots:
            d = {k: v for k, v in asdict(s).items() if k != "expected_keys"}
            d["expected_keys"] = len(s.expected_keys)
            d["expected_keys_file"] = keys_file(s.date)
            d["counts"] = s.counts()
            snaps.append(d)
        return {"seed": self.seed, "params": self.params, "source": self.source,
                "snapshots": snaps, "held_back": [asdict(r) for r in self.held_back]}


def keys_file(date: str) -> str:
    return f"expected/{date}.keys.txt"


def load_scenario(out_dir: str | Path) -> Scenario:
    """Read back what ``derive_scenario`` wrote (``scenario.json`` + expected key files)."""
    out = Path(out_dir)
    try:
        doc = json.loads((out / SCENARIO_FILE).read_text("utf-8"))
    except FileNotFoundError:
        raise BadInput(f"no {SCENARIO_FILE} in {out}; derive a scenario there first") from None
    snaps = []
    for d in doc["snapshots"]:
        keys = (out / d["expected_keys_file"]).read_text("ascii").split()
        snaps.append(Snapshot(
            date=d["date"], product_file=d["product_file"], package_file=d["package_file"],
            product_rows=d["product_rows"], package_rows=d["package_rows"],
            expected_rows=d["expected_rows"], expected_keys=frozenset(keys),
            rejected=d["rejected"], unchanged=d["unchanged"],
            new=[New(**r) for r in d["new"]], changed=[Change(**r) for r in d["changed"]],
            disappeared=[PackageRef(**r) for r in d["disappeared"]],
            reactivated=[Reactivation(r["ndc"], r["ndc11"], r["dropped_on"],
                                      tuple(r["changed_fields"])) for r in d["reactivated"]],
            duplicates=[PackageRef(**r) for r in d["duplicates"]],
        ))
    return Scenario(out, doc["seed"], doc["params"], doc["source"], snaps,
                    [PackageRef(**r) for r in doc["held_back"]])
