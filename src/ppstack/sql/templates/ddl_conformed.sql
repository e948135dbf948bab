-- ddl_conformed: the conformed SCD Type 2 table of one entity type (docs/data-rules.md#conformed-scd2).
--
-- Why it looks like this:
-- * An Iceberg table, because the conformed layer lives in S3 Tables (managed Iceberg): MERGE INTO
--   is supported only on Iceberg tables in Athena engine v3, and every write becomes a snapshot,
--   which is our system-time history.
--   ref: https://docs.aws.amazon.com/athena/latest/ug/merge-into-statement.html
-- * No LOCATION: S3 Tables choose the storage location themselves and Athena refuses one.
--   ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
-- * All names lower case ([a-z0-9_]); otherwise Glue/Athena cannot see the table.
--   ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-buckets-naming.html
-- * IF NOT EXISTS: bootstrapping is safe to repeat before every run.
-- * Named <database>.<table> without a catalog: Athena parses DDL with Hive's grammar, which has
--   no catalog part, so the S3 Tables catalog "s3tablescatalog/<table bucket>" is given in the
--   statement's QueryExecutionContext instead.
--   ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
-- * On AWS the deployment (CloudFormation) creates this table with its snapshot settings, and the
--   pipeline does not run this statement there; locally it creates the Iceberg table.
-- * Columns come from the entity spec (ppstack.entities.spec.conformed_columns): business fields in
--   fingerprint order, then active_from / active_to / is_current, then lineage.
-- * Not partitioned: one entity type is a few hundred thousand rows, and every SCD2 statement reads
--   all current rows anyway; partitioning would only multiply small files.
CREATE TABLE IF NOT EXISTS {{conformed_db}}.{{conformed_table_name}} (
  {{conformed_ddl_columns}}
)
TBLPROPERTIES ('table_type' = 'ICEBERG')
