"""LABELER: one entity per 5-digit labeler code, derived from the same FDA_NDC files.

It exists to prove that an entity type is data: it has its own staging template and nothing
else of its own.
"""

from __future__ import annotations

from ppstack.entities.spec import Column, EntitySpec, SearchField

LABELER = EntitySpec(
    name="LABELER",
    key="labeler_code",
    key_format="labeler5",
    doc="One row per labeler code (first NDC segment, zero-padded to 5 digits).",
    sources=("FDA_NDC",),
    staging_template={"FDA_NDC": "stage_labeler_fda_ndc"},
    search=(SearchField("labeler_name", 0, "name"),),
    fields=(
        Column("labeler_code", doc="5-digit labeler code, e.g. 00002"),
        Column("labeler_name", doc="LABELERNAME of the labeler's most recent product listing"),
        Column("product_count", doc="number of distinct marketed product NDCs (text)"),
    ),
)
