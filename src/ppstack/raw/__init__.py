"""Layer 1: raw archive (original bytes, write-once) and UTF-8 Parquet renditions."""
