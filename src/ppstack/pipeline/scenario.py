"""Derived dated FDA_NDC deliveries: real rows, seeded changes, and an exact list of what changed.

Only one real FDA snapshot exists (2019-04-29), but SCD2 change detection needs a sequence of
deliveries. ``derive_scenario`` takes one real ``product.txt`` + ``package.txt`` pair and writes a
snapshot per date whose rows are the real rows, byte for byte, except for the seeded changes it
makes and records. Tests, the demo and the benchmarks compare the pipeline's counts with the record.

Rules (all counts are shares of the DRUG keys of the source, at least 1 when a share is > 0):

* **Base** (first date): the source minus the held-back pool. The pool is the newest-marketed
  packages by package ``STARTMARKETINGDATE`` (ties by NDC); it is released oldest first, so later
  dates get the newest packages. ``base_holdback_share`` defaults to ``new_share`` times the number
  of derived dates; pool keys never released are listed in ``Scenario.held_back``.
* **new**: released pool keys; once the pool is empty, a new package of an existing product (same
  shape, an unused package segment, ``STARTMARKETINGDATE`` = the date). ``next_day_batch`` holds
  nothing back, so its day 1 is the source file unchanged.
* **changed**: a product row is edited in place (one of ``PROPRIETARYNAME``,
  ``ACTIVE_NUMERATOR_STRENGTH``, ``ROUTENAME``, ``LABELERNAME``). The row is shared by all its
  packages, so every present package of that product is recorded as changed; splitting the row
  was rejected because the PRODUCTID would then change for reasons FDA never has. Edits persist.
* **disappeared**: package rows dropped. A product row whose packages are all absent is dropped
  too, as FDA does when a listing goes; product rows that never had a package are always kept.
* **reactivated**: a key dropped on an earlier date comes back; half of them with an edited
  ``PACKAGEDESCRIPTION``. ``changed_fields`` lists every column that differs from the row as last
  published (a product edit made while the key was away counts too). A key must first be dropped
  on a derived date, so reactivations start on the second derived date.
* **duplicates**: for that date only, the package row appears a second time under a copy of its
  product row with a new PRODUCTID (a second SPL version); business fields are identical, so any
  deterministic dedupe rule leaves the key's fingerprint as it was.

Only "clean" keys are touched: the package joins an ``NDC_EXCLUDE_FLAG = 'N'`` product, its NDC
normalises, and the 11-digit NDC occurs once in the source. A key has at most one event per date,
so the expected SCD2 result is exact: inserted = new + reactivated, updated = changed,
deleted = disappeared, and the rest unchanged. Output keeps the source format: the bytes of the
header, delimiter, line ending and encoding (Windows-1252) are those of the source.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date as _date
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ppstack.errors import BadInput
from ppstack.layout import check_date
from ppstack.serving.keys import normalize_ndc

EDITABLE_FIELDS = ("PROPRIETARYNAME", "ACTIVE_NUMERATOR_STRENGTH", "ROUTENAME", "LABELERNAME")
_PRODUCT_COLUMNS = ("PRODUCTID", "PRODUCTNDC", "NDC_EXCLUDE_FLAG", *EDITABLE_FIELDS)
_PACKAGE_COLUMNS = ("PRODUCTID", "NDCPACKAGECODE", "PACKAGEDESCRIPTION", "STARTMARKETINGDATE")
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
            d["expected_keys_file"] = _keys_file(s.date)
            d["counts"] = s.counts()
            snaps.append(d)
        return {"seed": self.seed, "params": self.params, "source": self.source,
                "snapshots": snaps, "held_back": [asdict(r) for r in self.held_back]}


def _keys_file(date: str) -> str:
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


# ---------------------------------------------------------------- reading the source


@dataclass
class _Table:
    """A delimited file kept as raw lines, so untouched rows are written back byte for byte."""

    header: bytes
    cols: dict[str, int]
    lines: list[bytes]
    eol: bytes
    sha256: str


def _read_table(path: Path, required: tuple[str, ...]) -> _Table:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None
    if not data.strip():
        raise BadInput(f"{path} is empty")
    first = data.split(b"\n", 1)[0]
    eol = b"\r\n" if first.endswith(b"\r") else b"\n"
    lines = data.split(eol)
    if lines and lines[-1] == b"":
        lines.pop()
    header = lines[0]
    cols = {name.decode("latin-1").strip(): i for i, name in enumerate(header.split(b"\t"))}
    missing = [c for c in required if c not in cols]
    if missing:
        raise BadInput(f"{path} lacks column(s) {', '.join(missing)}; is it a tab-delimited "
                       "FDA NDC product/package file?")
    return _Table(header, cols, lines[1:], eol, hashlib.sha256(data).hexdigest())


def _text(value: bytes) -> str:
    try:
        return value.decode("cp1252")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _norm(value: bytes) -> bytes:
    """DRUG text rule (trim, collapse inner whitespace): an edit must survive it to be a change."""
    return b" ".join(value.split())


def _edit(name: str, value: bytes, rng: random.Random) -> bytes | None:
    """A plausible new value for one product field, or None when this field cannot change."""
    if name == "ROUTENAME":
        new = b"SUBLINGUAL" if _norm(value) == b"ORAL" else b"ORAL"
    elif name == "ACTIVE_NUMERATOR_STRENGTH":
        items = value.split(b"; ")
        try:
            num = Decimal(items[0].strip().decode("ascii"))
        except (InvalidOperation, UnicodeDecodeError):
            return None
        if not num.is_finite() or num == 0:
            return None
        items[0] = format((num * 2).normalize(), "f").encode("ascii")
        new = b"; ".join(items)
    else:  # PROPRIETARYNAME, LABELERNAME: change case (as SPL versions do) or add a suffix
        suffix = b" XR" if name == "PROPRIETARYNAME" else b" Holdings"
        new = value + suffix
        if rng.random() < 0.5:
            for cased in (value.upper(), value.lower()):
                if cased != value:
                    new = cased
                    break
    return new if _norm(new) != _norm(value) else None


def _ndc9(product_ndc: bytes) -> str | None:
    """PRODUCTNDC -> 9 digits (labeler 5 + product 4), as staging checks a package against it."""
    a, _, b = product_ndc.strip().decode("latin-1").partition("-")
    if not (a.isdigit() and b.isdigit() and a.isascii() and b.isascii()):
        return None
    return {(4, 4): "0" + a + b, (5, 3): a + "0" + b, (5, 4): a + b}.get((len(a), len(b)))


def _set_field(line: bytes, col: int, value: bytes) -> bytes:
    fields = line.split(b"\t")
    fields[col] = value
    return b"\t".join(fields)


def _get_field(line: bytes, col: int) -> bytes:
    return line.split(b"\t")[col]


class _Deriver:
    """Parsed source plus the evolving state of the scenario; one instance per derivation."""

    def __init__(self, product_path: Path, package_path: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.prod = _read_table(product_path, _PRODUCT_COLUMNS)
        self.pkg = _read_table(package_path, _PACKAGE_COLUMNS)
        pc, kc = self.prod.cols, self.pkg.cols
        self.prod_line = list(self.prod.lines)
        self.pkg_line = list(self.pkg.lines)
        index: dict[bytes, int] = {}
        self.prod_n: list[bool] = []
        self.prod_ndc9: list[str | None] = []
        for i, line in enumerate(self.prod_line):
            f = line.split(b"\t")
            index[f[pc["PRODUCTID"]].strip()] = i
            self.prod_n.append(f[pc["NDC_EXCLUDE_FLAG"]] == b"N")  # exact, as staging compares
            self.prod_ndc9.append(_ndc9(f[pc["PRODUCTNDC"]]))
        self.pkg_prod: list[int] = []
        self.pkg_ndc: list[str] = []
        self.pkg_ndc11: list[str | None] = []
        starts: list[bytes] = []
        seen: Counter[str] = Counter()  # every 11-digit NDC in the file, staged or not
        for line in self.pkg_line:
            f = line.split(b"\t")
            ndc = f[kc["NDCPACKAGECODE"]].decode("latin-1").strip()
            key = normalize_ndc(ndc)
            if key:
                seen[key] += 1
            p = index.get(f[kc["PRODUCTID"]].strip(), -1)
            self.pkg_ndc.append(ndc)
            self.pkg_prod.append(p)
            self.pkg_ndc11.append(self._stageable(p, key))
            starts.append(f[kc["STARTMARKETINGDATE"]].strip())
        self.used11 = set(seen)
        self.prod_pkgs: list[list[int]] = [[] for _ in self.prod_line]
        self.clean = bytearray(len(self.pkg_line))
        for k, p in enumerate(self.pkg_prod):
            if p >= 0:
                self.prod_pkgs[p].append(k)
                key = self.pkg_ndc11[k]
                self.clean[k] = bool(self.prod_n[p] and key and seen[key] == 1)
        self.always_product = [not pk for pk in self.prod_pkgs]  # listed without packages
        # Products whose edits have an exact, known effect on DRUG keys.
        self.editable = [p for p, pk in enumerate(self.prod_pkgs)
                         if pk and self.prod_n[p] and all(self.clean[k] for k in pk)]
        self.n_keys = len({self.pkg_ndc11[k] for k, p in enumerate(self.pkg_prod)
                           if p >= 0 and self.prod_n[p] and self.pkg_ndc11[k]})
        self.present = bytearray(b"\x01") * len(self.pkg_line)
        self.dropped: dict[int, tuple[str, bytes, bytes]] = {}  # pkg -> (date, prod, pkg line)
        self._starts = starts

    def _stageable(self, p: int, key: str | None) -> str | None:
        """The key staging would derive, or None when it rejects the row (bad NDC, or an NDC
        that does not belong to the joined product)."""
        if key is None or p < 0 or key[:9] != self.prod_ndc9[p]:
            return None
        return key

    # -- sizing and candidates

    def count(self, share: float) -> int:
        if share <= 0:
            return 0
        return max(1, round(share * self.n_keys))

    def hold_back(self, n: int) -> list[int]:
        """The n newest-marketed clean packages, removed from the base, oldest first."""
        cands = [k for k in range(len(self.pkg_line)) if self.clean[k]]
        cands.sort(key=lambda k: (self._starts[k], self.pkg_ndc11[k]), reverse=True)
        pool = sorted(cands[:n], key=lambda k: (self._starts[k], self.pkg_ndc11[k]))
        for k in pool:
            self.present[k] = 0
        return pool

    def free_present(self, busy: set[int]) -> list[int]:
        return [k for k in range(len(self.pkg_line))
                if self.clean[k] and self.present[k] and k not in busy]

    def ref(self, k: int) -> PackageRef:
        return PackageRef(self.pkg_ndc[k], self.pkg_ndc11[k] or "")

    # -- events

    def add_packages(self, date: str, n: int, busy: set[int]) -> list[int]:
        """n new packages of existing products: same NDC shape, an unused package segment."""
        prods = list(self.editable)
        self.rng.shuffle(prods)
        added: list[int] = []
        for p in prods:
            if len(added) >= n:
                break
            live = [k for k in self.prod_pkgs[p] if self.present[k]]
            if not live or any(k in busy for k in self.prod_pkgs[p]):
                continue
            k = self._new_package(p, live[0], date)
            if k is not None:
                busy.add(k)
                added.append(k)
        return added

    def _new_package(self, p: int, template: int, date: str) -> int | None:
        kc = self.pkg.cols
        head, _, seg = self.pkg_ndc[template].rpartition("-")
        codes = [str(c).zfill(len(seg)) for c in range(10 ** len(seg))]
        self.rng.shuffle(codes)
        for code in codes:
            ndc = f"{head}-{code}"
            key = self._stageable(p, normalize_ndc(ndc))
            if key and key not in self.used11:
                break
        else:
            return None
        old = self.pkg_ndc[template].encode("ascii")
        line = _set_field(self.pkg_line[template], kc["NDCPACKAGECODE"], ndc.encode("ascii"))
        desc = _get_field(line, kc["PACKAGEDESCRIPTION"]).replace(old, ndc.encode("ascii"))
        line = _set_field(line, kc["PACKAGEDESCRIPTION"], desc)
        line = _set_field(line, kc["STARTMARKETINGDATE"], date.replace("-", "").encode())
        k = len(self.pkg_line)
        self.pkg_line.append(line)
        self.pkg_prod.append(p)
        self.pkg_ndc.append(ndc)
        self.pkg_ndc11.append(key)
        self.clean.append(1)
        self.present.append(1)
        self._starts.append(b"")
        self.prod_pkgs[p].append(k)
        self.used11.add(key)
        return k

    def reactivate(self, k: int) -> Reactivation:
        dropped_on, old_prod, old_pkg = self.dropped.pop(k)
        self.present[k] = 1
        if self.rng.random() < 0.5:
            col = self.pkg.cols["PACKAGEDESCRIPTION"]
            desc = _get_field(self.pkg_line[k], col)
            new = desc.upper() if desc.upper() != desc else desc + b" (RELABELED)"
            self.pkg_line[k] = _set_field(self.pkg_line[k], col, new)
        diffs: list[str] = []
        for table, old, now in ((self.prod, old_prod, self.prod_line[self.pkg_prod[k]]),
                                (self.pkg, old_pkg, self.pkg_line[k])):
            a, b = old.split(b"\t"), now.split(b"\t")
            diffs += [n for n, i in table.cols.items() if a[i] != b[i] and n not in diffs]
        r = self.ref(k)
        return Reactivation(r.ndc, r.ndc11, dropped_on, tuple(diffs))

    def change_products(self, target: int, busy: set[int]) -> list[Change]:
        changes: list[Change] = []
        prods = list(self.editable)
        self.rng.shuffle(prods)
        pc = self.prod.cols
        for p in prods:
            if target <= 0:
                break
            pkgs = self.prod_pkgs[p]
            live = [k for k in pkgs if self.present[k]]
            if not live or len(live) > target or any(k in busy for k in pkgs):
                continue
            fields = self.prod_line[p].split(b"\t")
            first = self.rng.randrange(len(EDITABLE_FIELDS))
            for name in EDITABLE_FIELDS[first:] + EDITABLE_FIELDS[:first]:
                old = fields[pc[name]]
                new = _edit(name, old, self.rng)
                if new is not None:
                    break
            else:
                continue
            fields[pc[name]] = new
            self.prod_line[p] = b"\t".join(fields)
            pid = _text(fields[pc["PRODUCTID"]])
            for k in live:
                r = self.ref(k)
                changes.append(Change(r.ndc, r.ndc11, pid, name, _text(old), _text(new)))
            busy.update(pkgs)
            target -= len(live)
        return changes

    def duplicate(self, k: int) -> tuple[bytes, bytes]:
        """A second product row (new SPL document id) listing the same package."""
        p = self.pkg_prod[k]
        col = self.prod.cols["PRODUCTID"]
        fields = self.prod_line[p].split(b"\t")
        ndc = _get_field(self.prod_line[p], self.prod.cols["PRODUCTNDC"]).strip()
        spl = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        pid = ndc + b"_" + str(spl).encode("ascii")
        fields[col] = pid
        pkg_line = _set_field(self.pkg_line[k], self.pkg.cols["PRODUCTID"], pid)
        return b"\t".join(fields), pkg_line

    # -- output

    def write(self, out: Path, date: str, extra: list[tuple[bytes, bytes]]) -> Snapshot:
        has = bytearray(self.always_product)
        keys: set[str] = set()
        rows = bad = 0
        for k, p in enumerate(self.pkg_prod):
            if self.present[k] and p >= 0:
                has[p] = 1
                if self.prod_n[p]:
                    rows += 1
                    key = self.pkg_ndc11[k]
                    if key:
                        keys.add(key)
                    else:
                        bad += 1
        rows += len(extra)  # duplicates are clean 'N' rows whose key is already counted
        prod_lines = [ln for p, ln in enumerate(self.prod_line) if has[p]]
        prod_lines += [e[0] for e in extra]
        pkg_lines = [ln for k, ln in enumerate(self.pkg_line) if self.present[k]]
        pkg_lines += [e[1] for e in extra]
        day = out / date
        day.mkdir(parents=True, exist_ok=True)
        for name, table, lines in (("product.txt", self.prod, prod_lines),
                                   ("package.txt", self.pkg, pkg_lines)):
            body = table.eol.join([table.header, *lines]) + table.eol
            (day / name).write_bytes(body)
        (out / "expected").mkdir(exist_ok=True)
        (out / _keys_file(date)).write_text("\n".join(sorted(keys)) + "\n", "ascii")
        return Snapshot(date, f"{date}/product.txt", f"{date}/package.txt", len(prod_lines),
                        len(pkg_lines), rows, frozenset(keys), bad)


def _clear_previous(out: Path) -> None:
    """Remove the files an earlier scenario wrote here, so no stale date survives a re-run."""
    try:
        doc = json.loads((out / SCENARIO_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return
    for snap in doc.get("snapshots", []):
        for name in ("product_file", "package_file", "expected_keys_file"):
            (out / snap[name]).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (out / snap["date"]).rmdir()  # only when empty: never someone else's files
    (out / SCENARIO_FILE).unlink()


def _check_args(dates: list[str], shares: dict[str, float | None]) -> None:
    if not dates:
        raise BadInput("give at least one date (the base snapshot)")
    for d in dates:
        check_date(d, "scenario date")
    if any(a >= b for a, b in zip(dates, dates[1:], strict=False)):
        raise BadInput(f"scenario dates must be strictly increasing: {', '.join(dates)}")
    for name, v in shares.items():
        if v is not None and not 0 <= v <= 1:
            raise BadInput(f"{name} must be between 0 and 1, not {v}")


def derive_scenario(
    product_path: str | Path,
    package_path: str | Path,
    out_dir: str | Path,
    *,
    dates: list[str],
    seed: int,
    new_share: float = 0.005,
    change_share: float = 0.01,
    disappear_share: float = 0.005,
    reactivate_share: float = 0.002,
    duplicate_share: float = 0.001,
    base_holdback_share: float | None = None,
) -> Scenario:
    """Write ``out_dir/<date>/{product,package}.txt`` per date plus ``scenario.json``.

    The same inputs and seed always give the same bytes and the same record. Raises BadInput
    for unreadable or foreign files, bad dates and shares outside [0, 1].
    """
    shares = {"new_share": new_share, "change_share": change_share,
              "disappear_share": disappear_share, "reactivate_share": reactivate_share,
              "duplicate_share": duplicate_share, "base_holdback_share": base_holdback_share}
    _check_args(dates, shares)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)
    dv = _Deriver(Path(product_path), Path(package_path), seed)
    n_new = dv.count(new_share)
    holdback = (n_new * (len(dates) - 1) if base_holdback_share is None
                else dv.count(base_holdback_share))
    pool = dv.hold_back(holdback)
    snaps = [dv.write(out, dates[0], [])]
    for date in dates[1:]:
        busy: set[int] = set()
        released, pool = pool[:n_new], pool[n_new:]
        for k in released:
            dv.present[k] = 1
        busy.update(released)
        made = dv.add_packages(date, n_new - len(released), busy)
        new = [New(**asdict(dv.ref(k)), origin="held_back") for k in released]
        new += [New(**asdict(dv.ref(k)), origin="new_package") for k in made]
        back = sorted(dv.dropped)
        back = dv.rng.sample(back, min(len(back), dv.count(reactivate_share)))
        busy.update(back)
        reactivated = [dv.reactivate(k) for k in back]
        changed = dv.change_products(dv.count(change_share), busy)
        cands = dv.free_present(busy)
        gone = sorted(dv.rng.sample(cands, min(len(cands), dv.count(disappear_share))))
        busy.update(gone)
        for k in gone:
            dv.dropped[k] = (date, dv.prod_line[dv.pkg_prod[k]], dv.pkg_line[k])
            dv.present[k] = 0
        cands = dv.free_present(busy)
        dups = sorted(dv.rng.sample(cands, min(len(cands), dv.count(duplicate_share))))
        snap = dv.write(out, date, [dv.duplicate(k) for k in dups])
        snap.new, snap.changed, snap.reactivated = new, changed, reactivated
        snap.disappeared = [dv.ref(k) for k in gone]
        snap.duplicates = [dv.ref(k) for k in dups]
        both = snap.expected_keys & snaps[-1].expected_keys
        snap.unchanged = len(both) - len({c.ndc11 for c in changed})
        snaps.append(snap)
    scenario = Scenario(
        out, seed, {k: v for k, v in shares.items() if v is not None},
        {"product": {"path": str(product_path), "sha256": dv.prod.sha256},
         "package": {"path": str(package_path), "sha256": dv.pkg.sha256}},
        snaps, [dv.ref(k) for k in pool],
    )
    text = json.dumps(scenario.to_dict(), indent=1, ensure_ascii=False, sort_keys=True)
    (out / SCENARIO_FILE).write_text(text + "\n", "utf-8")
    return scenario


def next_day_batch(
    product_path: str | Path,
    package_path: str | Path,
    out_dir: str | Path,
    date: str,
    seed: int,
    change_share: float = 0.01,
    new_share: float = 0.005,
    disappear_share: float = 0.005,
) -> Scenario:
    """Day 1 = the source files unchanged (dated ``date``), day 2 = the next day with changes.

    For benchmarks: nothing is held back (new keys are new packages of existing products) and
    there are no reactivations or duplicates, so day 2's SCD2 work is exactly the shares given.
    """
    day2 = (_date.fromisoformat(check_date(date)) + timedelta(days=1)).isoformat()
    return derive_scenario(
        product_path, package_path, out_dir, dates=[date, day2], seed=seed,
        new_share=new_share, change_share=change_share, disappear_share=disappear_share,
        reactivate_share=0.0, duplicate_share=0.0, base_holdback_share=0.0,
    )
