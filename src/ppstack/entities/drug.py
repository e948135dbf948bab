"""DRUG: one entity per package NDC (11 digits, 5-4-2, no hyphens)."""

from __future__ import annotations

from ppstack.entities.spec import DATE, Column, EntitySpec, SearchField

DRUG = EntitySpec(
    name="DRUG",
    key="ndc",
    key_format="ndc11",
    doc="One row per package NDC of the FDA NDC Directory (products with NDC_EXCLUDE_FLAG = 'N').",
    sources=("FDA_NDC",),
    staging_template={"FDA_NDC": "stage_drug_fda_ndc"},
    # Searchable fields: tier 0 is the drug's name, tier 1 what it is made of, tier 2 how it
    # is given and who makes it (ranking, see api/search.py); aliases scope a query word.
    search=(
        SearchField("proprietary_name", 0, "name"),
        SearchField("nonproprietary_name", 1, "generic"),
        SearchField("ingredient_list", 1, "ingredient"),
        SearchField("dosage_form", 2, "form"),
        SearchField("route", 2, "route"),
        SearchField("strength", 2, "strength"),
        SearchField("labeler_name", 2, "labeler"),
    ),
    # Fingerprint order (docs/data-rules.md#entities): the five fields the architecture names
    # first, then the rest of the directory's fields.
    fields=(
        Column("ndc", doc="11-digit package NDC, e.g. 00002322730"),
        Column("proprietary_name", doc="PROPRIETARYNAME"),
        Column("ingredient_list", doc="SUBSTANCENAME ('; ' separated, source order)"),
        Column("strength", doc="per-ingredient 'numerator unit' pairs joined with '; '"),
        Column("route", doc="ROUTENAME"),
        Column("nonproprietary_name", doc="NONPROPRIETARYNAME"),
        Column("dosage_form", doc="DOSAGEFORMNAME"),
        Column("labeler_name", doc="LABELERNAME"),
        Column("product_ndc", doc="PRODUCTNDC as published (hyphenated)"),
        Column("package_ndc", doc="NDCPACKAGECODE as published (hyphenated)"),
        Column("package_description", doc="PACKAGEDESCRIPTION"),
        Column("product_type", doc="PRODUCTTYPENAME"),
        Column("marketing_category", doc="MARKETINGCATEGORYNAME"),
        Column("application_number", doc="APPLICATIONNUMBER"),
        Column("dea_schedule", doc="DEASCHEDULE"),
        Column("marketing_start_date", DATE, "product STARTMARKETINGDATE (invalid -> NULL)"),
        Column("marketing_end_date", DATE, "product ENDMARKETINGDATE (invalid -> NULL)"),
    ),
)
