-- Layer 2: staging.<entity>_rejects, the source rows of each batch that were not staged, with a
-- reason (s3://<bucket>/staging_rejects/<ENTITY>/<ingestion_batch_id>/, one CTAS per batch).
--
-- The same columns for every entity (sql.params.REJECT_COLUMNS) so rejects are audited alike:
-- reason_code / reason, where the row came from (source_member, source_file, source_row), the
-- identifying value as published (raw_value) and the normalised key when one could be derived.
-- reason_code 'duplicate' marks rows that lost the within-batch de-duplication (kept for audit,
-- counted as duplicates, not as rejects).
--
-- As for staging.<entity>_batch: ingestion_batch_id is only the partition key (Glue refuses it
-- as a data column too), projected with 'injected', so queries MUST give
-- WHERE ingestion_batch_id = '<batch id>' (static equality) or Athena fails the query.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html
-- The COMMENT escapes its quotes with a backslash: Athena parses DDL with Hive's grammar, where a
-- doubled quote ('') is two adjacent literals and the quote is lost.
CREATE EXTERNAL TABLE IF NOT EXISTS {{staging_db}}.{{rejects_table_name}} (
  {{rejects_ddl_columns_no_partition}}
)
COMMENT 'Rows of each batch that were not staged, with reason; query with WHERE ingestion_batch_id = \'<batch id>\''
PARTITIONED BY (ingestion_batch_id string)
STORED AS PARQUET
LOCATION '{{rejects_root}}'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.ingestion_batch_id.type' = 'injected',
  'storage.location.template' = '{{rejects_location_template}}'
)
