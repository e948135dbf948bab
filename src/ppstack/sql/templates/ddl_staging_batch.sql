-- Layer 2: the stable table staging.<entity>_batch over every staged batch
-- (s3://<bucket>/staging/<ENTITY>/<ingestion_batch_id>/part-*.parquet, one CTAS per batch).
--
-- Columns: business fields in fingerprint order, then lineage, from the entity spec
-- (entities.spec.staging_columns) minus ingestion_batch_id: Glue refuses a partition key that is
-- also a data column, so it is declared only in PARTITIONED BY. The Parquet files also carry
-- ingestion_batch_id; on a partitioned table the partition value (from the path) is what queries
-- see, and it is the same value.
--
-- Partition projection 'injected' on ingestion_batch_id: batch ids are unique run timestamps that
-- no range or enum can list. Consequence for every query of this table: Athena REQUIRES a static
-- equality on the key, e.g. WHERE ingestion_batch_id = '20250103T060012.123456Z'; without it the
-- query fails with CONSTRAINT_VIOLATION. That is also the only way the pipeline reads it.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html
-- ref: https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html
-- The COMMENT escapes its quotes with a backslash: Athena parses DDL with Hive's grammar, where a
-- doubled quote ('') is two adjacent literals and the quote is lost.
CREATE EXTERNAL TABLE IF NOT EXISTS {{staging_db}}.{{staging_table_name}} (
  {{staging_ddl_columns_no_partition}}
)
COMMENT 'One row per entity per batch; query with WHERE ingestion_batch_id = \'<batch id>\' (injected projection)'
PARTITIONED BY (ingestion_batch_id string)
STORED AS PARQUET
LOCATION '{{staging_root}}'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.ingestion_batch_id.type' = 'injected',
  'storage.location.template' = '{{staging_location_template}}'
)
