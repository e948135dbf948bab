"""Reading deliveries: every accepted form gives the same tables; every bad form a clear error."""

from __future__ import annotations

import pytest
from raw_forms import (
    grid_text,
    make_xls,
    make_xlsx,
    make_zip,
    sample_bytes,
    sample_grid,
)

from ppstack.entities.sources import FDA_NDC
from ppstack.errors import BadInput
from ppstack.raw.readers import InputFile, read_delivery
from ppstack.raw.sheets import cell_text

PRODUCT, PACKAGE = sample_bytes("product"), sample_bytes("package")


def _rows(data: bytes) -> int:
    return data.count(b"\n") - 1


def _read(files: dict[str, bytes]):
    return read_delivery(FDA_NDC, [InputFile(n, d) for n, d in files.items()])


def test_read_delivery_txt_pair_counts_rows_of_the_files() -> None:
    d = _read({"product.txt": PRODUCT, "package.txt": PACKAGE})
    assert d.members["product"].rows == _rows(PRODUCT) == 2290
    assert d.members["package"].rows == _rows(PACKAGE) == 2934
    assert d.members["product"].encoding == "cp1252"
    assert d.members["package"].encoding == "utf-8"  # pure ASCII


def test_read_delivery_maps_members_by_header_not_name() -> None:
    d = _read({"b.txt": PRODUCT, "a.tsv": PACKAGE})
    assert d.members["product"].source_file == "b.txt"
    assert d.members["package"].source_file == "a.tsv"


def test_read_delivery_zip_names_members_inside_the_zip() -> None:
    z = make_zip({"product.txt": PRODUCT, "package.txt": PACKAGE})
    d = _read({"ndctext.zip": z})
    assert d.members["product"].source_file == "ndctext.zip!product.txt"
    assert d.members["product"].file_name == "ndctext.zip"
    assert d.members["package"].rows == 2934


def test_read_delivery_text_keeps_exact_values() -> None:
    t = _read({"product.txt": PRODUCT, "package.txt": PACKAGE}).members["product"].table
    labelers = set(t.column("labelername").to_pylist())
    assert "ALK-Abell\u00f3 A/S" in labelers
    assert "Bio\u00a0Ekuiliber\u00a0LLC" in labelers
    assert any("\u2122" in v for v in labelers)  # 0x99 -> trademark sign
    assert any('"' in v for v in labelers)  # quote characters are data
    assert any(v.endswith(" ") for v in t.column("proprietarynamesuffix").to_pylist())
    assert "" in t.column("proprietarynamesuffix").to_pylist()  # empty is '', not NULL
    assert t.column("proprietarynamesuffix").null_count == 0
    for name in t.column_names:
        assert not any("\r" in v for v in t.column(name).to_pylist())


def test_read_delivery_utf8_copy_reads_the_same_as_cp1252_original() -> None:
    utf8 = PRODUCT.decode("cp1252").encode("utf-8")
    a = _read({"product.txt": PRODUCT, "package.txt": PACKAGE}).members["product"]
    b = _read({"product.txt": utf8, "package.txt": PACKAGE}).members["product"]
    assert b.encoding == "utf-8"
    assert a.table.equals(b.table)


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"])
def test_read_delivery_line_endings_crlf_or_lf_give_same_table(ending: bytes) -> None:
    data = PACKAGE.replace(b"\r\n", ending)
    t = _read({"product.txt": PRODUCT, "package.txt": data}).members["package"].table
    ref = _read({"product.txt": PRODUCT, "package.txt": PACKAGE}).members["package"].table
    assert t.equals(ref)


def _grids() -> dict[str, list[list[str]]]:
    return {"product": sample_grid("product"), "package": sample_grid("package")}


def _text_reference() -> dict[str, object]:
    g = _grids()
    d = _read({"product.txt": grid_text(g["product"]), "package.txt": grid_text(g["package"])})
    return {m: d.members[m].table for m in ("product", "package")}


@pytest.mark.parametrize("form",
                         ["xlsx-workbook", "xlsx-per-member", "xls-workbook", "xls-per-member"])
def test_read_delivery_spreadsheet_forms_match_text(form: str) -> None:
    g = _grids()
    make = make_xlsx if form.startswith("xlsx") else make_xls
    ext = form.split("-")[0]
    if form.endswith("workbook"):
        files = {f"ndc.{ext}": make(g)}
    else:
        files = {f"p1.{ext}": make({"Sheet1": g["product"]}),
                 f"p2.{ext}": make({"Sheet1": g["package"]})}
    d = _read(files)
    ref = _text_reference()
    for member in ("product", "package"):
        assert d.members[member].table.equals(ref[member]), member
        assert d.members[member].encoding == ext
    names = d.members["product"].table.column("labelername").to_pylist()
    assert any("Abell\u00f3" in v for v in names)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), ("Zydis ", "Zydis "), (20190429, "20190429"), (20190429.0, "20190429"),
     (0.5, "0.5"), (True, "TRUE")],
)
def test_cell_text_renders_typed_cells_as_source_text(value: object, text: str) -> None:
    assert cell_text(value) == text


def _header_only(data: bytes) -> bytes:
    return data.split(b"\n", 1)[0] + b"\n"


def _drop_column(data: bytes, name: bytes) -> bytes:
    lines = data.split(b"\r\n")
    idx = lines[0].split(b"\t").index(name)
    out = [b"\t".join(f for i,
                      f in enumerate(ln.split(b"\t")) if i != idx) if ln else ln for ln in lines]
    return b"\r\n".join(out)


def _replace_line(data: bytes, number: int, new: bytes) -> bytes:
    lines = data.split(b"\r\n")
    lines[number - 1] = new
    return b"\r\n".join(lines)


def _with_byte(data: bytes, line: int, byte: bytes) -> bytes:
    lines = data.split(b"\r\n")
    lines[line - 1] = lines[line - 1] + byte
    return b"\r\n".join(lines)


_PKG_LINE_10 = PACKAGE.split(b"\r\n")[9]

BAD_INPUTS = [
    ("empty-file", {"product.txt": b"", "package.txt": PACKAGE}, ["product.txt", "empty"]),
    ("header-only", {"product.txt": PRODUCT, "package.txt": _header_only(PACKAGE)},
     ["package.txt", "no data rows"]),
    ("missing-required-column",
     {"product.txt": PRODUCT, "package.txt": _drop_column(PACKAGE, b"PACKAGEDESCRIPTION")},
     ["package.txt", "PACKAGEDESCRIPTION", "missing required"]),
    ("comma-separated", {"product.txt": PRODUCT, "package.csv": PACKAGE.replace(b"\t", b",")},
     ["package.csv", "comma-separated", "tab"]),
    ("pipe-separated", {"product.txt": PRODUCT.replace(b"\t", b"|"), "package.txt": PACKAGE},
     ["product.txt", "pipe-separated"]),
    ("short-row", {"product.txt": PRODUCT,
                   "package.txt": _replace_line(PACKAGE, 10, _PKG_LINE_10.rsplit(b"\t", 1)[0])},
     ["package.txt", "line 10", "7 fields", "header has 8"]),
    ("long-row",
     {"product.txt": PRODUCT, "package.txt": _replace_line(PACKAGE, 10, _PKG_LINE_10 + b"\tx")},
     ["package.txt", "line 10", "9 fields"]),
    ("blank-line", {"product.txt": PRODUCT, "package.txt": _replace_line(PACKAGE, 10, b"")},
     ["package.txt", "line 10", "blank"]),
    ("bare-cr", {"product.txt": PRODUCT,
                 "package.txt": _replace_line(PACKAGE, 10, _PKG_LINE_10.replace(b"\t", b"\r", 1))},
     ["package.txt", "line 10", "carriage return"]),
    ("undecodable-byte", {"product.txt": _with_byte(PRODUCT, 5, b"\x81"), "package.txt": PACKAGE},
     ["product.txt", "line 5", "byte offset", "0x81", "cp1252"]),
    ("zip-without-members", {"ndctext.zip": make_zip({"readme.txt": b"hello\r\nworld\r\n"})},
     ["ndctext.zip!readme.txt", "matches no member"]),
    ("zip-missing-package", {"ndctext.zip": make_zip({"product.txt": PRODUCT})},
     ["lacks member(s) package", "NDCPACKAGECODE", "ndctext.zip!product.txt"]),
    ("member-missing", {"product.txt": PRODUCT}, ["lacks member(s) package", "product.txt"]),
    ("two-files-one-member",
     {"product.txt": PRODUCT, "product2.txt": PRODUCT, "package.txt": PACKAGE},
     ["two files for member 'product'", "product.txt", "product2.txt"]),
    ("unknown-file-type", {"product.pdf": b"%PDF-1.4", "package.txt": PACKAGE},
     ["product.pdf", "unknown file type"]),
    ("corrupt-zip", {"ndctext.zip": b"PK\x03\x04garbage"}, ["ndctext.zip", "cannot be opened"]),
    ("not-a-member", {"product.txt": PRODUCT, "package.txt": PACKAGE, "x.txt": b"A\tB\r\n1\t2\r\n"},
     ["x.txt", "matches no member", "PROPRIETARYNAME"]),
    ("hidden-file-name", {".product.txt": PRODUCT, "package.txt": PACKAGE},
     ["'.product.txt'", "not an archivable file name"]),
    ("duplicate-header", {"product.txt": PRODUCT,
                          "package.txt": PACKAGE.replace(b"SAMPLE_PACKAGE", b"PRODUCTID", 1)},
     ["package.txt", "PRODUCTID", "appears twice"]),
]


@pytest.mark.parametrize(("files", "fragments"), [c[1:] for c in BAD_INPUTS],
                         ids=[c[0] for c in BAD_INPUTS])
def test_read_delivery_bad_input_names_file_and_place(files: dict[str, bytes],
                                                      fragments: list[str]) -> None:
    with pytest.raises(BadInput) as e:
        _read(files)
    for fragment in fragments:
        assert fragment in str(e.value), (fragment, str(e.value))


def test_read_delivery_undecodable_byte_offset_is_exact() -> None:
    data = _with_byte(PRODUCT, 5, b"\x8d")
    offset = data.index(b"\x8d")
    with pytest.raises(BadInput, match=f"byte offset {offset}: byte 0x8D"):
        _read({"product.txt": data, "package.txt": PACKAGE})


@pytest.mark.parametrize("maker", [make_xlsx, make_xls], ids=["xlsx", "xls"])
def test_read_delivery_spreadsheet_header_only_sheet_is_refused(maker) -> None:
    g = _grids()
    with pytest.raises(BadInput, match=r"ndc\.\w+!package: row 1 is a header .* no data rows"):
        ext = "xlsx" if maker is make_xlsx else "xls"
        _read({f"ndc.{ext}": maker({"product": g["product"], "package": g["package"][:1]})})


def test_read_delivery_spreadsheet_row_too_wide_names_sheet_and_row() -> None:
    g = _grids()
    g["package"][3] = g["package"][3] + ["extra"]
    with pytest.raises(BadInput, match=r"ndc\.xlsx!package: row 4 has values in 9 columns"):
        _read({"ndc.xlsx": make_xlsx(g)})


def test_read_delivery_spreadsheet_csv_pasted_in_one_column_is_wrong_delimiter() -> None:
    g = _grids()
    g["package"] = [[",".join(r)] for r in g["package"]]
    with pytest.raises(BadInput, match=r"ndc\.xlsx!package: line 1 looks comma-separated"):
        _read({"ndc.xlsx": make_xlsx(g)})
