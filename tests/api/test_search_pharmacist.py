"""Queries a pharmacist types, on real FDA rows: strength, form and ranking (issue: search).

The bundled extract lacks Tylenol and amoxicillin capsules, so the catalogue is cut from the
full 2019-04-29 files in ../shared (every product naming lisinopril, amoxicillin, Tylenol or
insulin glargine, and lidocaine injections) and loaded through the real pipeline. Skipped when
the full files are absent.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from ppstack.api import config, handlers
from ppstack.backends import Runtime, make_dynamodb
from ppstack.entities import DRUG, get_source
from ppstack.pipeline.run import run_batch
from ppstack.raw.archive import archive
from ppstack.serving.keys import tokenize
from ppstack.settings import load_settings

from .conftest import body, load_event
from .search_oracle import ranked_ids

FDA = Path(__file__).resolve().parents[3] / "shared" / "data" / "fda_ndc"
PICK = re.compile(rb"lisinopril|amoxicillin|tylenol|glargine", re.IGNORECASE)
LIDOCAINE_INJECTION = re.compile(rb"lidocaine.*\tINJECTION", re.IGNORECASE)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (FDA / "product_2019-04-29.txt").is_file(),
                       reason="needs the full FDA files in ../shared/data/fda_ndc"),
]


def cut(out: Path) -> tuple[Path, Path]:
    """The products the tests need and their packages, in the source's own format."""
    product = (FDA / "product_2019-04-29.txt").read_bytes().split(b"\r\n")
    keep = [line for line in product[1:] if PICK.search(line) or LIDOCAINE_INJECTION.search(line)]
    ids = {line.split(b"\t", 1)[0] for line in keep}
    package = (FDA / "package_2019-04-29.txt").read_bytes().split(b"\r\n")
    packs = [line for line in package[1:] if line.split(b"\t", 1)[0] in ids]
    out.mkdir(parents=True, exist_ok=True)
    (out / "product.txt").write_bytes(b"\r\n".join([product[0], *keep, b""]))
    (out / "package.txt").write_bytes(b"\r\n".join([package[0], *packs, b""]))
    return out / "product.txt", out / "package.txt"


@pytest.fixture(scope="module")
def rows(dynalite_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("pharmacist")
    settings = load_settings(backend="local", home=str(home), dynamodb_endpoint=dynalite_endpoint,
                             dynamodb_table=f"rx-{uuid.uuid4().hex[:12]}")
    rt = Runtime(settings)
    try:
        archive(rt, DRUG, get_source(DRUG, "FDA_NDC"), list(cut(home / "in")), "2019-04-29")
        assert run_batch(rt, DRUG, "FDA_NDC", "2019-04-29").state == "synced"
        current = rt.engine.execute("SELECT * FROM conformed.drug WHERE is_current").dicts()
    finally:
        rt.close()
    config.configure(table=settings.dynamodb_table, client=make_dynamodb(settings))
    yield {r["ndc"]: r for r in current}
    config.reset()


def search(q: str, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    params = {"q": q, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
    resp = handlers.search_drug(load_event("search_drug", query=params), None)
    assert resp["statusCode"] == 200, resp["body"]
    return dict(body(resp))


def every_result(q: str) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        data = search(q, 100, cursor)
        out += data["results"]
        cursor = data["next_cursor"]
        if cursor is None:
            return out


def assert_total(data: dict[str, Any], want: list[str]) -> None:
    """An exact total is the count; a gte total is a lower bound no smaller than the page."""
    if data["total_relation"] == "eq":
        assert data["total"] == len(want)
    else:
        assert len(want) >= data["total"] >= len(data["results"])


def test_lisinopril_10_mg_finds_every_10_mg_lisinopril_package(rows: dict) -> None:
    data = search("lisinopril 10 mg")
    want = ranked_ids(rows, [("lisinopril", False), ("10", False), ("mg", False)])
    assert len(want) > 20
    assert_total(data, want)
    assert [r["entity_id"] for r in data["results"]] == want[:100]
    assert [r["entity_id"] for r in every_result("lisinopril 10 mg")] == want
    assert all("10 mg" in r["strength"] for r in data["results"])
    # the drugs named Lisinopril come before brands whose generic name is lisinopril
    tiers = [0 if "lisinopril" in tokenize(r["proprietary_name"]) else 1 for r in data["results"]]
    assert tiers == sorted(tiers) and tiers[0] == 0


def test_amoxicillin_capsule_finds_the_capsules(rows: dict) -> None:
    data = search("amoxicillin capsule")
    capsules = {k for k, r in rows.items() if "amoxicillin" in tokenize(r["ingredient_list"])
                and "CAPSULE" in (r["dosage_form"] or "")}
    assert len(capsules) > 20
    assert_total(data, sorted(capsules))
    assert all("CAPSULE" in r["dosage_form"] for r in data["results"])
    assert {r["entity_id"] for r in every_result("amoxicillin capsule")} == capsules


def test_tylenol_lists_tylenol_itself_first(rows: dict) -> None:
    results = every_result("tylenol")
    assert [r["entity_id"] for r in results] == ranked_ids(rows, [("tylenol", False)])
    named = [("tylenol" in tokenize(r["proprietary_name"])) for r in results]
    assert named[0] and named == sorted(named, reverse=True)  # name matches before mentions
    assert not all(named)  # products that merely mention Tylenol are found, after it
    sizes = [len(tokenize(r["proprietary_name"])) for r in results if named[results.index(r)]]
    assert sizes == sorted(sizes)  # the more of the name 'tylenol' is, the higher


@pytest.mark.parametrize(("q", "field", "word"), [
    ("lidocaine injection", "dosage_form", "INJECTION"),
    ("insulin glargine 100", "strength", "100"),
])
def test_form_and_strength_words_narrow_to_what_is_meant(rows: dict, q: str, field: str,
                                                         word: str) -> None:
    data = search(q)
    assert data["total"] > 0
    assert_total(data, ranked_ids(rows, [(t, False) for t in tokenize(q)]))
    assert all(word in r[field] for r in data["results"])
    assert [r["entity_id"] for r in data["results"]] == ranked_ids(
        rows, [(t, False) for t in tokenize(q)])[:100]


def test_decimal_strength_is_one_word(rows: dict) -> None:
    decimals = sorted({t for r in rows.values() if "amoxicillin" in tokenize(r["ingredient_list"])
                       for t in tokenize(r["strength"]) if "." in t})
    assert "62.5" in decimals
    data = search(f"amoxicillin strength:{decimals[0]}")
    assert data["total"] == len(ranked_ids(
        rows, [("amoxicillin", False), (decimals[0], False, "strength")])) > 0
