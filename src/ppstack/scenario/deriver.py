"""The evolving state of one scenario derivation: which packages are present, dropped, added.

One ``Deriver`` per derivation holds the parsed source (rows as raw lines) and applies the
events of each date (``derive.derive_scenario`` decides how many of each). Which rows staging
would accept, and under which key, comes from ``pipeline.stage_rules``: the scenario only
touches keys whose fate it knows exactly.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from pathlib import Path

from ppstack.pipeline import stage_rules
from ppstack.scenario.edits import EDITABLE_FIELDS, edit
from ppstack.scenario.record import Change, PackageRef, Reactivation, Snapshot, keys_file
from ppstack.scenario.source import get_field, read_table, set_field, text
from ppstack.serving.keys import normalize_ndc

PRODUCT_COLUMNS = ("PRODUCTID", "PRODUCTNDC", "NDC_EXCLUDE_FLAG", *EDITABLE_FIELDS)
PACKAGE_COLUMNS = ("PRODUCTID", "NDCPACKAGECODE", "PACKAGEDESCRIPTION", "STARTMARKETINGDATE")


class Deriver:
    """Parsed source plus the evolving state of the scenario; one instance per derivation."""

    def __init__(self, product_path: Path, package_path: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.prod = read_table(product_path, PRODUCT_COLUMNS)
        self.pkg = read_table(package_path, PACKAGE_COLUMNS)
        pc, kc = self.prod.cols, self.pkg.cols
        self.prod_line = list(self.prod.lines)
        self.pkg_line = list(self.pkg.lines)
        index: dict[bytes, int] = {}
        self.prod_n: list[bool] = []  # the product is included (NDC_EXCLUDE_FLAG 'N')
        self.prod_ndc: list[str] = []  # PRODUCTNDC as published
        for i, line in enumerate(self.prod_line):
            f = line.split(b"\t")
            index[f[pc["PRODUCTID"]].strip()] = i
            flag = f[pc["NDC_EXCLUDE_FLAG"]].decode("latin-1")  # exact, as staging compares
            self.prod_n.append(flag == stage_rules.INCLUDED_FLAG)
            self.prod_ndc.append(f[pc["PRODUCTNDC"]].decode("latin-1"))
        self.pkg_prod: list[int] = []
        self.pkg_ndc: list[str] = []
        self.pkg_ndc11: list[str | None] = []
        starts: list[bytes] = []
        seen: Counter[str] = Counter()  # every 11-digit NDC in the file, staged or not
        for line in self.pkg_line:
            f = line.split(b"\t")
            ndc = f[kc["NDCPACKAGECODE"]].decode("latin-1").strip()
            key = normalize_ndc(ndc)  # any 11-digit NDC, staged or not, is taken
            if key:
                seen[key] += 1
            p = index.get(f[kc["PRODUCTID"]].strip(), -1)
            self.pkg_ndc.append(ndc)
            self.pkg_prod.append(p)
            self.pkg_ndc11.append(self._stageable(p, ndc))
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

    def _stageable(self, p: int, ndc: str) -> str | None:
        """The key staging gives package code ``ndc`` of product ``p``, or None when it rejects
        the row (no product, bad NDC, or an NDC that does not belong to the product)."""
        return stage_rules.staged_key(ndc, self.prod_ndc[p]) if p >= 0 else None

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
            key = self._stageable(p, ndc)
            if key and key not in self.used11:
                break
        else:
            return None
        old = self.pkg_ndc[template].encode("ascii")
        line = set_field(self.pkg_line[template], kc["NDCPACKAGECODE"], ndc.encode("ascii"))
        desc = get_field(line, kc["PACKAGEDESCRIPTION"]).replace(old, ndc.encode("ascii"))
        line = set_field(line, kc["PACKAGEDESCRIPTION"], desc)
        line = set_field(line, kc["STARTMARKETINGDATE"], date.replace("-", "").encode())
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
            desc = get_field(self.pkg_line[k], col)
            new = desc.upper() if desc.upper() != desc else desc + b" (RELABELED)"
            self.pkg_line[k] = set_field(self.pkg_line[k], col, new)
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
                new = edit(name, old, self.rng)
                if new is not None:
                    break
            else:
                continue
            fields[pc[name]] = new
            self.prod_line[p] = b"\t".join(fields)
            pid = text(fields[pc["PRODUCTID"]])
            for k in live:
                r = self.ref(k)
                changes.append(Change(r.ndc, r.ndc11, pid, name, text(old), text(new)))
            busy.update(pkgs)
            target -= len(live)
        return changes

    def duplicate(self, k: int) -> tuple[bytes, bytes]:
        """A second product row (new SPL document id) listing the same package."""
        p = self.pkg_prod[k]
        col = self.prod.cols["PRODUCTID"]
        fields = self.prod_line[p].split(b"\t")
        ndc = get_field(self.prod_line[p], self.prod.cols["PRODUCTNDC"]).strip()
        spl = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        pid = ndc + b"_" + str(spl).encode("ascii")
        fields[col] = pid
        pkg_line = set_field(self.pkg_line[k], self.pkg.cols["PRODUCTID"], pid)
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
        (out / keys_file(date)).write_text("\n".join(sorted(keys)) + "\n", "ascii")
        return Snapshot(date, f"{date}/product.txt", f"{date}/package.txt", len(prod_lines),
                        len(pkg_lines), rows, frozenset(keys), bad)
