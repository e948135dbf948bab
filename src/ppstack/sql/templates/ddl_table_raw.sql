-- Layer 1: one Glue table per tabular member of a source delivery (rendered once per member,
-- e.g. raw.drug_fda_ndc_product), over the UTF-8 Parquet renditions of the archived files.
--
-- Minimal on purpose (spec §1 "just files + minimal schema"): every column is a string exactly
-- as published ('' for empty fields; column names = lower-cased source headers) plus the lineage
-- columns _source_file / _source_row. All cleaning happens in the staging SQL, never here.
--
-- Partition projection on ingest_date instead of crawlers or ADD PARTITION: a new delivery is
-- visible the moment its rendition is written, and Athena ignores Glue partition metadata on a
-- projected table anyway.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html
--
-- Projection type 'date' (not 'injected'): ad-hoc questions across deliveries ("what did the FDA
-- file say about this NDC each day?") need range predicates such as ingest_date >= '2025-01-01',
-- which 'injected' refuses (it demands a static equality). A 'date' projection needs a range;
-- '2000-01-01,NOW' covers any past delivery and grows by itself. Always filter on ingest_date:
-- an unfiltered query enumerates every day of the range (a missing day is zero rows, not an
-- error). The template adds the member folder after the date (layout.rendition_location_template).
-- ref: https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html
CREATE EXTERNAL TABLE IF NOT EXISTS {{raw_db}}.{{raw_table}} (
  {{raw_ddl_columns}}
)
COMMENT {{raw_comment}}
PARTITIONED BY (ingest_date string)
STORED AS PARQUET
LOCATION '{{raw_location}}'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.ingest_date.type' = 'date',
  'projection.ingest_date.format' = 'yyyy-MM-dd',
  'projection.ingest_date.range' = '2000-01-01,NOW',
  'projection.ingest_date.interval' = '1',
  'projection.ingest_date.interval.unit' = 'DAYS',
  'storage.location.template' = '{{raw_location_template}}'
)
