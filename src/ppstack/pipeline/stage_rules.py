"""Staging's accept rules for DRUG from FDA_NDC, stated in Python.

Staging decides in SQL which package rows it stages (the ``classified`` CTE of the fragment
``drug_fda_ndc_candidates``, docs/data-rules.md#staging). Code that must know the outcome without
running the SQL (the scenario generator records exactly which keys each derived delivery stages)
uses these functions instead of a copy of the rules. ``tests/sql/test_stage_rules_property.py``
evaluates the template's own expressions on the local engine and holds them equal to these.
"""

from __future__ import annotations

import re

from ppstack.serving.keys import normalize_ndc

# reason_code values, in the order the SQL checks them (first failing check wins).
NO_PRODUCT = "no_product"  # the package's PRODUCTID has no product row
EXCLUDED = "excluded"  # NDC_EXCLUDE_FLAG 'E': neither staged nor rejected, only counted
BAD_EXCLUDE_FLAG = "bad_exclude_flag"  # neither 'N' nor 'E'
BAD_NDC = "bad_ndc"  # NDCPACKAGECODE does not normalise to 11 digits
NDC_PRODUCT_MISMATCH = "ndc_product_mismatch"  # the package NDC is not under its product NDC
ACCEPTED = "accepted"

INCLUDED_FLAG = "N"
EXCLUDED_FLAG = "E"

_PRODUCT_SHAPES = {(4, 4): "0{a}{b}", (5, 3): "{a}0{b}", (5, 4): "{a}{b}"}
_PRODUCT_NDC = re.compile(r"^([0-9]{4,5})-([0-9]{3,4})$")


def product_ndc9(product_ndc: str | None) -> str | None:
    """PRODUCTNDC (4-4, 5-3 or 5-4, hyphenated) as 9 digits, labeler 5 + product 4, or None.

    The SQL trims with ``trim(BOTH ' ' FROM ...)``, which removes spaces on Athena and DuckDB
    alike; so does this.
    """
    m = _PRODUCT_NDC.match((product_ndc or "").strip(" "))
    if not m:
        return None
    a, b = m.groups()
    shape = _PRODUCT_SHAPES.get((len(a), len(b)))
    return shape.format(a=a, b=b) if shape else None


def reason_code(package_code: str | None, product_found: bool, exclude_flag: str | None,
                product_ndc: str | None) -> str:
    """Why staging keeps or refuses one package row (``ACCEPTED`` when it is staged)."""
    if not product_found:
        return NO_PRODUCT
    if exclude_flag == EXCLUDED_FLAG:
        return EXCLUDED
    if exclude_flag != INCLUDED_FLAG:
        return BAD_EXCLUDE_FLAG
    ndc = normalize_ndc(package_code) if package_code is not None else None
    if ndc is None:
        return BAD_NDC
    if ndc[:9] != product_ndc9(product_ndc):
        return NDC_PRODUCT_MISMATCH
    return ACCEPTED


def staged_key(package_code: str, product_ndc: str | None) -> str | None:
    """The 11-digit key staging gives a package of an included product, or None when the NDC
    checks refuse it (``bad_ndc``, ``ndc_product_mismatch``)."""
    ndc = normalize_ndc(package_code)
    if ndc is None or ndc[:9] != product_ndc9(product_ndc):
        return None
    return ndc


def clean_text(value: str | None) -> str | None:
    """A business text field as staged: whitespace runs become one space, the edges are
    trimmed, and an empty result is NULL. Case is kept. (Python's ``str.split()`` whitespace
    is the character class the SQL uses.)"""
    if value is None:
        return None
    return " ".join(value.split()) or None
