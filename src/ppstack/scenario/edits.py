"""Plausible edits of a product field: what the scenario changes to make a key "changed".

An edit counts only if it survives staging's text cleaning (``pipeline.stage_rules.clean_text``):
a change of inner whitespace alone would be no change at all after staging.
"""

from __future__ import annotations

import random
from decimal import Decimal, InvalidOperation

from ppstack.pipeline.stage_rules import clean_text
from ppstack.scenario.source import text

EDITABLE_FIELDS = ("PROPRIETARYNAME", "ACTIVE_NUMERATOR_STRENGTH", "ROUTENAME", "LABELERNAME")


def _staged(value: bytes) -> str | None:
    return clean_text(text(value))


def edit(name: str, value: bytes, rng: random.Random) -> bytes | None:
    """A plausible new value for one product field, or None when this field cannot change."""
    if name == "ROUTENAME":
        new = b"SUBLINGUAL" if _staged(value) == "ORAL" else b"ORAL"
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
    return new if _staged(new) != _staged(value) else None
