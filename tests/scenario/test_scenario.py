"""Scenario generator: derived FDA_NDC deliveries must match, row for row, what they record.

Every check re-reads the written files with a parser of its own (cp1252, tab, CRLF), so the
record is tested against the files, not against the generator's own bookkeeping.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from ppstack.errors import BadInput
from ppstack.scenario import (
    EDITABLE_FIELDS,
    Scenario,
    derive_scenario,
    load_scenario,
    next_day_batch,
)
from ppstack.serving.keys import normalize_ndc

PRODUCT_HEADER = (
    "PRODUCTID\tPRODUCTNDC\tPRODUCTTYPENAME\tPROPRIETARYNAME\tPROPRIETARYNAMESUFFIX\t"
    "NONPROPRIETARYNAME\tDOSAGEFORMNAME\tROUTENAME\tSTARTMARKETINGDATE\tENDMARKETINGDATE\t"
    "MARKETINGCATEGORYNAME\tAPPLICATIONNUMBER\tLABELERNAME\tSUBSTANCENAME\t"
    "ACTIVE_NUMERATOR_STRENGTH\tACTIVE_INGRED_UNIT\tPHARM_CLASSES\tDEASCHEDULE\t"
    "NDC_EXCLUDE_FLAG\tLISTING_RECORD_CERTIFIED_THROUGH"
)
PACKAGE_HEADER = (
    "PRODUCTID\tPRODUCTNDC\tNDCPACKAGECODE\tPACKAGEDESCRIPTION\tSTARTMARKETINGDATE\t"
    "ENDMARKETINGDATE\tNDC_EXCLUDE_FLAG\tSAMPLE_PACKAGE"
)
DATES = ["2019-04-29", "2019-04-30", "2019-05-01", "2019-05-02"]
SHARES = {"new_share": 0.03, "change_share": 0.06, "disappear_share": 0.03,
          "reactivate_share": 0.02, "duplicate_share": 0.02}
LABELERS = ["ALK-Abelló A/S", "Dr. Reddy’s Laboratories", "Skincare™ Inc", "Acme Pharma"]


def _write_synthetic(d: Path) -> tuple[Path, Path]:
    """~60 products in the three NDC shapes, 1-3 packages each, a few 'E' products, a product
    without packages, a natural duplicate package code, an orphan package and Windows-1252
    labeler names."""
    products, packages = [PRODUCT_HEADER], [PACKAGE_HEADER]
    for i in range(60):
        shape = i % 3
        labeler, prod = [("1234", f"{i:04d}"), (f"5{i:04d}", f"{i:03d}"),
                         ("67890", f"{i:04d}")][shape]
        pndc = f"{labeler}-{prod}"
        pid = f"{pndc}_{i:08x}-0000-4000-8000-000000000000"
        flag = "E" if i % 17 == 5 else "N"
        strength = "" if i % 11 == 0 else ("5; 10" if i % 4 == 0 else f"{i % 9 + 1}.5")
        unit = "" if not strength else ("mg/1; mg/1" if ";" in strength else "mg/1")
        products.append("\t".join([
            pid, pndc, "HUMAN PRESCRIPTION DRUG", f"Drugname{i}", "", f"generic {i}", "TABLET",
            "ORAL" if i % 2 else "TOPICAL", f"2019{1 + i % 4:02d}{1 + i % 28:02d}", "", "NDA",
            f"NDA{i:06d}", LABELERS[i % len(LABELERS)], "SUBSTANCE A" if strength else "",
            strength, unit, "", "", flag, "20201231",
        ]))
        for j in range(0 if i == 7 else 1 + i % 3):
            seg = str(j + 1) if shape == 2 else f"{j + 1:02d}"
            code = f"{pndc}-{seg}"
            packages.append("\t".join([
                pid, pndc, code, f"30 TABLET in 1 BOTTLE ({code})",
                f"2019{1 + (i + j) % 4:02d}{1 + i % 28:02d}", "", "N", "N",
            ]))
    # The same package code listed by a second SPL version of its product (as in the real file),
    # and a package whose product is missing (staging rejects it).
    pid, rest = products[1].split("\t", 1)
    products.append(f"{pid[:-1]}9\t{rest}")
    packages.append(f"{pid[:-1]}9\t" + packages[1].split("\t", 1)[1])
    packages.append("99999-999_x\t99999-999\t99999-999-99\tlost\t20190101\t\tN\tN")
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for name, lines in (("product.txt", products), ("package.txt", packages)):
        (d / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
        out.append(d / name)
    return out[0], out[1]


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Independent parser: cp1252, tab-delimited, CRLF, first line the header."""
    data = path.read_bytes()
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    assert not any(b"\n" in ln or b"\r" in ln for ln in lines)
    header = lines[0].decode("cp1252").split("\t")
    rows = [dict(zip(header, ln.decode("cp1252").split("\t"), strict=True)) for ln in lines[1:]]
    return header, rows


def _drug(day: Path) -> dict[str, list[tuple[dict, dict]]]:
    """ndc11 -> the (product, package) rows that stage as that DRUG key."""
    _, products = _read(day / "product.txt")
    _, packages = _read(day / "package.txt")
    by_id = {p["PRODUCTID"]: p for p in products}
    out: dict[str, list[tuple[dict, dict]]] = {}
    for k in packages:
        p = by_id.get(k["PRODUCTID"])
        key = normalize_ndc(k["NDCPACKAGECODE"])
        product9 = normalize_ndc(p["PRODUCTNDC"] + "-00") if p else None
        if p and p["NDC_EXCLUDE_FLAG"] == "N" and key and product9 and key[:9] == product9[:9]:
            out.setdefault(key, []).append((p, k))
    return out


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _write_synthetic(tmp_path_factory.mktemp("src"))


@pytest.fixture(scope="module")
def scenario(synthetic: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return derive_scenario(*synthetic, tmp_path_factory.mktemp("scn"), dates=DATES, seed=3,
                           **SHARES)


def _pairs(s: Scenario):
    return list(zip(s.snapshots, s.snapshots[1:], strict=False))


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_derive_scenario_same_seed_same_bytes(synthetic, tmp_path):
    for name in ("a", "b"):
        derive_scenario(*synthetic, tmp_path / name, dates=DATES, seed=11, **SHARES)
    derive_scenario(*synthetic, tmp_path / "c", dates=DATES, seed=12, **SHARES)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert _tree(tmp_path / "a") != _tree(tmp_path / "c")


def test_derive_scenario_every_kind_recorded_each_date(scenario):
    for snap in scenario.snapshots[1:]:
        assert snap.new and snap.changed and snap.disappeared and snap.duplicates, snap.date
    # a key must be dropped on a derived date before it can come back
    for snap in scenario.snapshots[2:]:
        assert snap.reactivated, snap.date
    assert {c.field for s in scenario.snapshots for c in s.changed} >= {"ROUTENAME"}


def test_derive_scenario_base_has_no_events(scenario):
    base = scenario.snapshots[0]
    assert not (base.new or base.changed or base.disappeared or base.reactivated or base.duplicates)


def test_derive_scenario_files_keep_source_format(synthetic, scenario):
    src_product = synthetic[0].read_bytes()
    for snap in scenario.snapshots:
        for src, rel in ((synthetic[0], snap.product_file), (synthetic[1], snap.package_file)):
            header, rows = _read(scenario.out_dir / rel)
            assert (scenario.out_dir / rel).read_bytes().split(b"\r\n", 1)[0] == \
                src.read_bytes().split(b"\r\n", 1)[0]
            assert rows
        # Windows-1252 bytes of the labeler names survive untouched ('ó' 0xF3, '’' 0x92)
        product = (scenario.out_dir / snap.product_file).read_bytes()
        assert b"Abell\xf3" in product and b"Reddy\x92s" in product
    assert b"Abell\xf3" in src_product


def test_derive_scenario_unedited_rows_are_source_bytes(synthetic, scenario):
    src = set(synthetic[1].read_bytes().split(b"\r\n"))
    last = scenario.snapshots[-1]
    touched = {r.ndc for s in scenario.snapshots for r in (*s.new, *s.reactivated, *s.duplicates)}
    for line in (scenario.out_dir / last.package_file).read_bytes().split(b"\r\n"):
        if line and line.split(b"\t")[2].decode() not in touched:
            assert line in src


def _assert_changes_in_files(s: Scenario) -> None:
    for prev, cur in _pairs(s):
        before, after = _drug(s.out_dir / prev.date), _drug(s.out_dir / cur.date)
        for c in cur.changed:  # a key listed twice (a duplicate) has the value in both rows
            assert {p[c.field] for p, _ in before[c.ndc11]} == {c.old}
            assert {p[c.field] for p, _ in after[c.ndc11]} == {c.new}
            assert " ".join(c.old.split()) != " ".join(c.new.split())


def _business(rows: list[tuple[dict, dict]]) -> set:
    """What staging reads of a key's rows, ignoring PRODUCTID (a duplicate's only difference)."""
    return {(tuple(sorted((k, v) for k, v in p.items() if k != "PRODUCTID")),
             k["PACKAGEDESCRIPTION"]) for p, k in rows}


def test_derive_scenario_changed_field_differs_between_dates(scenario):
    _assert_changes_in_files(scenario)


def test_derive_scenario_changed_covers_every_package_of_the_product(scenario):
    for _, cur in _pairs(scenario):
        after = _drug(scenario.out_dir / cur.date)
        changed = {c.ndc11 for c in cur.changed}
        for pid in {c.product_id for c in cur.changed}:
            sharing = {k for k, rows in after.items() if rows[0][0]["PRODUCTID"] == pid}
            assert sharing <= changed


def test_derive_scenario_disappeared_keys_absent(scenario):
    for prev, cur in _pairs(scenario):
        gone = {r.ndc11 for r in cur.disappeared}
        assert gone <= prev.expected_keys
        assert not gone & set(_drug(scenario.out_dir / cur.date))


def test_derive_scenario_reactivated_absent_then_present(scenario):
    dates = [s.date for s in scenario.snapshots]
    for prev, cur in _pairs(scenario):
        for r in cur.reactivated:
            assert r.ndc11 not in _drug(scenario.out_dir / prev.date)
            assert r.ndc11 not in _drug(scenario.out_dir / r.dropped_on)
            assert r.ndc11 in _drug(scenario.out_dir / cur.date)
            assert dates.index(r.dropped_on) < dates.index(cur.date)
            assert r.ndc11 in {d.ndc11 for d in scenario.snapshot(r.dropped_on).disappeared}


def test_derive_scenario_new_keys_absent_before(scenario):
    for prev, cur in _pairs(scenario):
        for n in cur.new:
            assert n.ndc11 not in _drug(scenario.out_dir / prev.date)
            assert n.ndc11 in _drug(scenario.out_dir / cur.date)


def test_derive_scenario_duplicates_listed_twice(scenario):
    for _, cur in _pairs(scenario):
        _, packages = _read(scenario.out_dir / cur.package_file)
        codes = Counter(k["NDCPACKAGECODE"] for k in packages)
        for d in cur.duplicates:
            assert codes[d.ndc] == 2
            ids = {k["PRODUCTID"] for k in packages if k["NDCPACKAGECODE"] == d.ndc}
            assert len(ids) == 2


def test_derive_scenario_expected_keys_match_files(scenario):
    for snap in scenario.snapshots:
        drug = _drug(scenario.out_dir / snap.date)
        assert snap.expected_keys == set(drug)
        assert snap.expected_rows == sum(len(v) for v in drug.values())
    for prev, cur in _pairs(scenario):
        arrived = cur.expected_keys - prev.expected_keys
        left = prev.expected_keys - cur.expected_keys
        assert arrived == {r.ndc11 for r in (*cur.new, *cur.reactivated)}
        assert left == {r.ndc11 for r in cur.disappeared}
        changed = {c.ndc11 for c in cur.changed}
        assert cur.unchanged == len(cur.expected_keys & prev.expected_keys) - len(changed)


def test_derive_scenario_unchanged_keys_have_same_business_text(scenario):
    for prev, cur in _pairs(scenario):
        before, after = _drug(scenario.out_dir / prev.date), _drug(scenario.out_dir / cur.date)
        changed = {c.ndc11 for c in cur.changed}
        for key in (cur.expected_keys & prev.expected_keys) - changed:
            assert _business(before[key]) == _business(after[key]), key


def test_load_scenario_round_trips(scenario):
    loaded = load_scenario(scenario.out_dir)
    assert loaded.to_dict() == scenario.to_dict()
    assert ([s.expected_keys for s in loaded.snapshots]
            == [s.expected_keys for s in scenario.snapshots])


def test_derive_scenario_rerun_removes_stale_dates(synthetic, tmp_path):
    derive_scenario(*synthetic, tmp_path, dates=DATES, seed=1)
    derive_scenario(*synthetic, tmp_path, dates=DATES[:2], seed=1)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("20")) == DATES[:2]
    assert not (tmp_path / "expected" / f"{DATES[2]}.keys.txt").exists()


@pytest.mark.parametrize("dates", [[], ["2019-04-30", "2019-04-29"], ["2019-02-30"], ["20190429"]])
def test_derive_scenario_bad_dates_refused(synthetic, tmp_path, dates):
    with pytest.raises(BadInput):
        derive_scenario(*synthetic, tmp_path, dates=dates, seed=1)


def test_derive_scenario_foreign_file_refused(synthetic, tmp_path):
    bad = tmp_path / "x.txt"
    bad.write_bytes(b"a,b,c\r\n1,2,3\r\n")
    with pytest.raises(BadInput, match="lacks column"):
        derive_scenario(bad, synthetic[1], tmp_path / "o", dates=DATES[:1], seed=1)


def test_derive_scenario_zero_shares_copy_source(synthetic, tmp_path):
    s = derive_scenario(*synthetic, tmp_path, dates=DATES[:3], seed=1, new_share=0,
                        change_share=0, disappear_share=0, reactivate_share=0, duplicate_share=0)
    for snap in s.snapshots:
        assert (tmp_path / snap.product_file).read_bytes() == synthetic[0].read_bytes()
        assert (tmp_path / snap.package_file).read_bytes() == synthetic[1].read_bytes()


def test_next_day_batch_day_one_is_the_source(synthetic, tmp_path):
    s = next_day_batch(*synthetic, tmp_path, "2019-04-29", seed=5, change_share=0.05,
                       new_share=0.03, disappear_share=0.03)
    assert [x.date for x in s.snapshots] == ["2019-04-29", "2019-04-30"]
    day1, day2 = s.snapshots
    assert (tmp_path / day1.product_file).read_bytes() == synthetic[0].read_bytes()
    assert (tmp_path / day1.package_file).read_bytes() == synthetic[1].read_bytes()
    assert day2.new and day2.changed and day2.disappeared
    assert all(n.origin == "new_package" for n in day2.new)
    assert not day2.reactivated and not day2.duplicates
    assert set(_drug(tmp_path / day2.date)) == day2.expected_keys


def test_derive_scenario_bundled_extract_consistent(sample_dir_files, tmp_path):
    s = derive_scenario(*sample_dir_files, tmp_path, dates=DATES, seed=7)
    for prev, cur in _pairs(s):
        assert cur.expected_keys == set(_drug(tmp_path / cur.date))
        assert cur.expected_keys - prev.expected_keys == {r.ndc11 for r in (*cur.new,
                                                                            *cur.reactivated)}
        assert prev.expected_keys - cur.expected_keys == {r.ndc11 for r in cur.disappeared}
        assert cur.new and cur.changed and cur.disappeared and cur.duplicates
    _assert_changes_in_files(s)
    assert {c.field for x in s.snapshots for c in x.changed} == set(EDITABLE_FIELDS)


@pytest.mark.slow
def test_next_day_batch_full_files_shares(full_fda_files, tmp_path):
    s = next_day_batch(full_fda_files["product"], full_fda_files["package"], tmp_path,
                       "2019-04-29", seed=7)
    day1, day2 = s.snapshots
    n = len(day1.expected_keys)
    assert len({c.ndc11 for c in day2.changed}) == round(0.01 * n)
    assert len(day2.new) == len(day2.disappeared) == round(0.005 * n)
    assert day2.expected_keys == set(_drug(tmp_path / day2.date))


@pytest.fixture
def sample_dir_files(sample_files: dict[str, Path]) -> tuple[Path, Path]:
    return sample_files["product"], sample_files["package"]


def test_scenario_cli_prints_summary_and_json(synthetic, tmp_path):
    from ppstack.cli.main import cli

    args = ["scenario", str(tmp_path / "o"), "--dates", ",".join(DATES[:3]), "--seed", "2",
            "--product", str(synthetic[0]), "--package", str(synthetic[1])]
    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[0].split()[:5] == ["date", "product_rows", "package_rows",
                                                      "keys", "new"]
    assert [ln.split()[0] for ln in table.stdout.splitlines()[2:]] == DATES[:3]
    as_json = CliRunner().invoke(cli, [*args, "--format", "json"])
    doc = json.loads(as_json.stdout)
    assert [s["date"] for s in doc["snapshots"]] == DATES[:3]
    assert doc["snapshots"][1]["changed"][0]["field"]
