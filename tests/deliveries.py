"""Small deliveries cut from the bundled FDA extract, for tests that run whole batches quickly.
Importable from every test folder (pytest puts ``tests/`` on ``sys.path`` for the root
conftest)."""

from __future__ import annotations

from pathlib import Path


def cut(sample_files: dict[str, Path], out: Path, products: int, drop_packages: int = 0,
        rename: int | None = None) -> list[Path]:
    """A small delivery from the bundled sample: its first products and their packages (bytes as
    published), minus the first ``drop_packages`` packages; ``rename`` changes one product's
    proprietary name (its packages change fingerprint)."""
    prod = sample_files["product"].read_bytes().split(b"\r\n")
    pack = sample_files["package"].read_bytes().split(b"\r\n")
    kept = prod[: products + 1]
    if rename is not None:
        fields = kept[rename].split(b"\t")
        fields[3] = fields[3] + b" RENAMED"
        kept[rename] = b"\t".join(fields)
    ids = {line.split(b"\t", 1)[0] for line in kept[1:]}
    packs = [pack[0]] + [p for p in pack[1:] if p.split(b"\t", 1)[0] in ids]
    packs = packs[:1] + packs[1 + drop_packages:]
    out.mkdir(parents=True, exist_ok=True)
    (out / "product.txt").write_bytes(b"\r\n".join(kept) + b"\r\n")
    (out / "package.txt").write_bytes(b"\r\n".join(packs) + b"\r\n")
    return [out / "product.txt", out / "package.txt"]


def thin(files: dict[str, Path], out: Path, every: int) -> list[Path]:
    """Every ``every``-th product of a delivery and all its packages (lines as published): a
    proportional slice of the full directory, for tests that must stay within a time budget."""
    prod = files["product"].read_bytes().splitlines(keepends=True)
    pack = files["package"].read_bytes().splitlines(keepends=True)
    kept = prod[:1] + prod[1::every]
    ids = {line.split(b"\t", 1)[0] for line in kept[1:]}
    packs = pack[:1] + [p for p in pack[1:] if p.split(b"\t", 1)[0] in ids]
    out.mkdir(parents=True, exist_ok=True)
    (out / "product.txt").write_bytes(b"".join(kept))
    (out / "package.txt").write_bytes(b"".join(packs))
    return [out / "product.txt", out / "package.txt"]
