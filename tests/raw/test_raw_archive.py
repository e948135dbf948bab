"""The archive: write-once originals, renditions, manifest last; refusals write nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from raw_forms import make_zip, sample_bytes, write

from ppstack import layout
from ppstack.backends import Runtime
from ppstack.entities import get_entity, get_source
from ppstack.errors import AlreadyExists, BadInput, NotFound
from ppstack.raw.archive import archive, load_manifest
from ppstack.settings import Settings, load_settings

DRUG = get_entity("DRUG")
FDA = get_source(DRUG, "FDA_NDC")
DATE = "2019-04-29"
PRODUCT, PACKAGE = sample_bytes("product"), sample_bytes("package")


@pytest.fixture
def rt(offline_settings: Settings) -> Runtime:
    return Runtime(offline_settings)


@pytest.fixture
def txt_pair(tmp_path: Path) -> list[Path]:
    return write(tmp_path / "in", {"product.txt": PRODUCT, "package.txt": PACKAGE})


def _objects(rt: Runtime) -> dict[str, bytes]:
    keys = rt.store.list("raw/") + rt.store.list("raw_tabular/")
    return {k: rt.store.get(k) for k in keys}


def _rendition(rt: Runtime, member: str):
    key = layout.rendition_prefix("DRUG", "FDA_NDC", DATE, member) + f"{member}.parquet"
    return pq.read_table(io.BytesIO(rt.store.get(key)))


def test_archive_txt_pair_writes_originals_renditions_and_manifest(rt: Runtime, txt_pair) -> None:
    result = archive(rt, DRUG, FDA, txt_pair, DATE)
    assert not result.already_archived
    assert sorted(_objects(rt)) == [
        "raw/DRUG/FDA_NDC/2019-04-29/package.txt",
        "raw/DRUG/FDA_NDC/2019-04-29/product.txt",
        "raw_tabular/DRUG/FDA_NDC/2019-04-29/_manifest.json",
        "raw_tabular/DRUG/FDA_NDC/2019-04-29/package/package.parquet",
        "raw_tabular/DRUG/FDA_NDC/2019-04-29/product/product.parquet",
    ]
    assert rt.store.get("raw/DRUG/FDA_NDC/2019-04-29/product.txt") == PRODUCT
    manifest = json.loads(rt.store.get(result.manifest_key))
    assert manifest["ingest_date"] == DATE
    assert {f["name"]: f["size"] for f in manifest["files"]} == {
        "product.txt": len(PRODUCT), "package.txt": len(PACKAGE)}
    assert manifest["members"]["product"]["rows"] == 2290
    assert manifest["members"]["package"]["rows"] == 2934
    assert manifest["members"]["package"]["columns"][:3] == ["productid", "productndc",
                                                             "ndcpackagecode"]


def test_archive_rendition_is_exact_utf8_text_with_lineage(rt: Runtime, txt_pair) -> None:
    archive(rt, DRUG, FDA, txt_pair, DATE)
    product = _rendition(rt, "product")
    assert product.num_rows == PRODUCT.count(b"\n") - 1
    assert product.column_names[-2:] == ["_source_file", "_source_row"]
    assert str(product.schema.field("_source_row").type) == "int64"
    assert set(product.column("_source_file").to_pylist()) == {"product.txt"}
    assert product.column("_source_row").to_pylist() == list(range(1, product.num_rows + 1))
    assert all(str(f.type) == "string" for f in product.schema if not f.name.startswith("_"))
    assert "ALK-Abell\u00f3 A/S" in product.column("labelername").to_pylist()
    # row 1 of the rendition is line 2 of the file, byte for byte after decoding
    line2 = PRODUCT.split(b"\r\n")[1].decode("cp1252").split("\t")
    assert [product.column(i)[0].as_py() for i in range(len(line2))] == line2
    suffixes = product.column("proprietarynamesuffix").to_pylist()
    assert any(s.endswith(" ") for s in suffixes)
    assert not any("\r" in (v or "") for c in product.column_names[:-1]
                   for v in product.column(c).to_pylist())


def test_archive_zip_rendition_names_zip_member(rt: Runtime, tmp_path: Path) -> None:
    files = write(tmp_path,
                  {"ndctext.zip": make_zip({"product.txt": PRODUCT, "package.txt": PACKAGE})})
    result = archive(rt, DRUG, FDA, files, DATE)
    assert [f.name for f in result.files] == ["ndctext.zip"]
    assert rt.store.list("raw/") == ["raw/DRUG/FDA_NDC/2019-04-29/ndctext.zip"]
    sources = set(_rendition(rt, "package").column("_source_file").to_pylist())
    assert sources == {"ndctext.zip!package.txt"}


def test_archive_older_layout_adds_absent_declared_columns_as_null(rt: Runtime,
                                                                   tmp_path: Path) -> None:
    lines = PACKAGE.split(b"\r\n")
    # no SAMPLE_PACKAGE
    old = b"\r\n".join(b"\t".join(ln.split(b"\t")[:-1]) if ln else ln for ln in lines)
    files = write(tmp_path, {"product.txt": PRODUCT, "package.txt": old})
    result = archive(rt, DRUG, FDA, files, DATE)
    assert result.members["package"].absent == ["sample_package"]
    assert _rendition(rt, "package").column("sample_package").null_count == 2934


def test_archive_same_files_again_is_a_noop(rt: Runtime, txt_pair) -> None:
    first = archive(rt, DRUG, FDA, txt_pair, DATE)
    before = _objects(rt)
    again = archive(rt, DRUG, FDA, txt_pair, DATE)
    assert again.already_archived
    assert again.members == first.members and again.files == first.files
    assert _objects(rt) == before


def test_archive_renditions_are_deterministic_across_homes(tmp_path: Path, txt_pair) -> None:
    stores = []
    for name in ("a", "b"):
        rt = Runtime(load_settings(backend="local", home=str(tmp_path / name)))
        archive(rt, DRUG, FDA, txt_pair, DATE)
        stores.append({k: v for k, v in _objects(rt).items() if k.endswith(".parquet")})
    assert stores[0] == stores[1] and len(stores[0]) == 2


def test_archive_different_bytes_for_archived_date_is_refused(rt: Runtime, txt_pair,
                                                              tmp_path: Path) -> None:
    archive(rt, DRUG, FDA, txt_pair, DATE)
    before = _objects(rt)
    changed = write(tmp_path / "changed",
                    {"product.txt": PRODUCT.replace(b"Strattera", b"STRATTERA"),
                                           "package.txt": PACKAGE})
    with pytest.raises(AlreadyExists, match=r"already archived with .*product\.txt"):
        archive(rt, DRUG, FDA, changed, DATE)
    assert _objects(rt) == before


def test_archive_different_file_set_for_archived_date_is_refused(rt: Runtime, txt_pair,
                                                                 tmp_path: Path) -> None:
    archive(rt, DRUG, FDA, txt_pair, DATE)
    before = _objects(rt)
    z = write(tmp_path, {"ndctext.zip": make_zip({"product.txt": PRODUCT, "package.txt": PACKAGE})})
    with pytest.raises(AlreadyExists, match="ndctext.zip"):
        archive(rt, DRUG, FDA, z, DATE)
    assert _objects(rt) == before


def _crash_after_originals(rt: Runtime, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        rt.store.put(layout.raw_key("DRUG", "FDA_NDC", DATE, name), data, if_none_match=True)


def test_archive_completes_after_crash_with_originals_only(rt: Runtime, txt_pair) -> None:
    _crash_after_originals(rt, {"product.txt": PRODUCT})
    result = archive(rt, DRUG, FDA, txt_pair, DATE)
    assert not result.already_archived
    assert load_manifest(rt, DRUG, FDA, DATE).members["package"].rows == 2934
    assert len(_objects(rt)) == 5


def test_archive_completes_after_crash_with_one_rendition(rt: Runtime, txt_pair,
                                                          tmp_path: Path) -> None:
    ref = Runtime(load_settings(backend="local", home=str(tmp_path / "ref")))
    archive(ref, DRUG, FDA, txt_pair, DATE)
    for key, data in _objects(ref).items():
        if not key.endswith(("_manifest.json", "package.parquet")):
            rt.store.put(key, data, if_none_match=True)
    archive(rt, DRUG, FDA, txt_pair, DATE)
    assert sorted(_objects(rt)) == sorted(_objects(ref))


def test_archive_crash_leftover_with_different_bytes_is_refused(rt: Runtime, txt_pair) -> None:
    _crash_after_originals(rt, {"product.txt": PRODUCT + b"x"})
    before = _objects(rt)
    with pytest.raises(AlreadyExists,
                       match=r"raw/DRUG/FDA_NDC/2019-04-29/product\.txt already exists with "
                             r"different bytes"):
        archive(rt, DRUG, FDA, txt_pair, DATE)
    assert _objects(rt) == before


def test_archive_crash_leftover_from_another_file_set_is_refused(rt: Runtime, txt_pair) -> None:
    _crash_after_originals(rt, {"ndctext.zip": b"PK"})
    before = _objects(rt)
    with pytest.raises(AlreadyExists, match="not part of this delivery"):
        archive(rt, DRUG, FDA, txt_pair, DATE)
    assert _objects(rt) == before


BAD = [
    ("empty-file", {"product.txt": b"", "package.txt": PACKAGE}, "product.txt: the file is empty"),
    ("header-only", {"product.txt": PRODUCT, "package.txt": PACKAGE.split(b"\n")[0] + b"\n"},
     "package.txt: line 1 is a header"),
    ("missing-required-column", {"product.txt": PRODUCT.replace(b"PROPRIETARYNAME\t", b"NAME\t", 1),
                                 "package.txt": PACKAGE}, "matches no member"),
    ("wrong-delimiter", {"product.txt": PRODUCT, "package.txt": PACKAGE.replace(b"\t", b",")},
     "package.txt: line 1 looks comma-separated"),
    ("undecodable",
     {"product.txt": PRODUCT.replace(b"Abell\xf3", b"Abell\x90", 1), "package.txt": PACKAGE},
     "byte 0x90 cannot be decoded"),
    ("zip-without-members", {"ndctext.zip": make_zip({"notes.txt": b"A\tB\r\n1\t2\r\n"})},
     "ndctext.zip!notes.txt: the header matches no member"),
]


@pytest.mark.parametrize(("files", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_archive_bad_input_writes_nothing(rt: Runtime, tmp_path: Path, files, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        archive(rt, DRUG, FDA, write(tmp_path, files), DATE)
    assert rt.store.list("raw/") == [] and rt.store.list("raw_tabular/") == []


def test_archive_missing_required_column_names_it(rt: Runtime, tmp_path: Path) -> None:
    bad = PRODUCT.replace(b"\tROUTENAME\t", b"\tROUTE\t", 1)
    with pytest.raises(BadInput,
                       match=r"product\.txt \(product\): missing required column\(s\) ROUTENAME"):
        archive(rt, DRUG, FDA, write(tmp_path, {"product.txt": bad, "package.txt": PACKAGE}), DATE)
    assert rt.store.list("raw/") == [] and rt.store.list("raw_tabular/") == []


@pytest.mark.parametrize("date", ["2019-4-29", "20190429", "2019-02-30", ""])
def test_archive_bad_date_writes_nothing(rt: Runtime, txt_pair, date: str) -> None:
    with pytest.raises(BadInput, match="--date"):
        archive(rt, DRUG, FDA, txt_pair, date)
    assert rt.store.list("raw/") == []


def test_load_manifest_of_unarchived_date_is_not_found(rt: Runtime) -> None:
    with pytest.raises(NotFound, match="not archived"):
        load_manifest(rt, "DRUG", "FDA_NDC", DATE)


@pytest.mark.slow
def test_archive_full_fda_files_counts_every_row(rt: Runtime,
                                                 full_fda_files: dict[str, Path]) -> None:
    result = archive(rt, DRUG, FDA, [full_fda_files["product"], full_fda_files["package"]], DATE)
    assert result.members["product"].rows == 128241
    assert result.members["package"].rows == 243960
    product = _rendition(rt, "product")
    assert product.num_rows == 128241
    assert product.column("_source_row")[-1].as_py() == 128241


def _leftover_rendition(rt: Runtime, ref: Runtime, mutate) -> None:
    key = layout.rendition_prefix("DRUG", "FDA_NDC", DATE, "package") + "package.parquet"
    table = mutate(pq.read_table(io.BytesIO(ref.store.get(key))))
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")  # other writer options: other bytes
    rt.store.put(key, buf.getvalue(), if_none_match=True)


def test_archive_crash_leftover_rendition_with_same_content_is_kept(rt: Runtime, txt_pair,
                                                                    tmp_path: Path) -> None:
    ref = Runtime(load_settings(backend="local", home=str(tmp_path / "ref")))
    archive(ref, DRUG, FDA, txt_pair, DATE)
    _leftover_rendition(rt, ref, lambda t: t)
    result = archive(rt, DRUG, FDA, txt_pair, DATE)
    assert result.members["package"].rows == 2934
    assert _rendition(rt, "package").equals(pq.read_table(io.BytesIO(
        ref.store.get(result.members["package"].key))))


def test_archive_crash_leftover_rendition_with_other_content_is_refused(rt: Runtime, txt_pair,
                                                                        tmp_path: Path) -> None:
    ref = Runtime(load_settings(backend="local", home=str(tmp_path / "ref")))
    archive(ref, DRUG, FDA, txt_pair, DATE)
    _leftover_rendition(rt, ref, lambda t: t.slice(1))
    before = _objects(rt)
    with pytest.raises(AlreadyExists,
                       match=r"package\.parquet already exists with different content"):
        archive(rt, DRUG, FDA, txt_pair, DATE)
    assert _objects(rt) == before
