"""Source declarations. FDA_NDC = the FDA NDC Directory (``ndctext.zip``: product + package)."""

from __future__ import annotations

from ppstack.entities.spec import Member, Source

FDA_NDC = Source(
    name="FDA_NDC",
    doc="FDA National Drug Code Directory: product.txt + package.txt (tab-delimited, Windows-1252, "
        "CRLF)",
    # The NDC Directory's text files as one zip, republished daily.
    # ref: https://www.fda.gov/drugs/drug-approvals-and-databases/national-drug-code-directory
    url="https://www.accessdata.fda.gov/cder/ndctext.zip",
    members=(
        Member(
            name="product",
            identify_by="PROPRIETARYNAME",
            required=(
                "PRODUCTID", "PRODUCTNDC", "PRODUCTTYPENAME", "PROPRIETARYNAME",
                "NONPROPRIETARYNAME", "DOSAGEFORMNAME", "ROUTENAME", "STARTMARKETINGDATE",
                "ENDMARKETINGDATE", "MARKETINGCATEGORYNAME", "APPLICATIONNUMBER", "LABELERNAME",
                "SUBSTANCENAME", "ACTIVE_NUMERATOR_STRENGTH", "ACTIVE_INGRED_UNIT",
                "DEASCHEDULE", "NDC_EXCLUDE_FLAG",
            ),
            columns=(
                "PRODUCTID", "PRODUCTNDC", "PRODUCTTYPENAME", "PROPRIETARYNAME",
                "PROPRIETARYNAMESUFFIX", "NONPROPRIETARYNAME", "DOSAGEFORMNAME", "ROUTENAME",
                "STARTMARKETINGDATE", "ENDMARKETINGDATE", "MARKETINGCATEGORYNAME",
                "APPLICATIONNUMBER", "LABELERNAME", "SUBSTANCENAME", "ACTIVE_NUMERATOR_STRENGTH",
                "ACTIVE_INGRED_UNIT", "PHARM_CLASSES", "DEASCHEDULE", "NDC_EXCLUDE_FLAG",
                "LISTING_RECORD_CERTIFIED_THROUGH",
            ),
        ),
        Member(
            name="package",
            identify_by="NDCPACKAGECODE",
            required=("PRODUCTID", "PRODUCTNDC", "NDCPACKAGECODE", "PACKAGEDESCRIPTION"),
            columns=(
                "PRODUCTID", "PRODUCTNDC", "NDCPACKAGECODE", "PACKAGEDESCRIPTION",
                "STARTMARKETINGDATE", "ENDMARKETINGDATE", "NDC_EXCLUDE_FLAG", "SAMPLE_PACKAGE",
            ),
        ),
    ),
)

SOURCES = {s.name: s for s in (FDA_NDC,)}
