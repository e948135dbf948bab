"""Layer 1: raw archive (original bytes, write-once) and UTF-8 Parquet renditions.

- ``readers``: any accepted form of a delivery -> one checked string table per source member
  (``text`` for delimited files, ``sheets`` for .xlsx/.xls);
- ``renditions``: the Parquet form SQL reads (exact text, lineage columns, fixed writer options);
- ``archive``: the write-once sequence (originals, renditions, manifest last) and ``load_manifest``.
"""
