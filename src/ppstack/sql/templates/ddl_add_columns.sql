-- ddl_add_columns: schema evolution when an entity spec gains business fields
-- (`ppstack run ... --accept-spec-change`, and `ppstack replay` for the stable staging table).
--
-- One statement for either kind of table the pipeline keeps:
-- * the conformed Iceberg table: Athena's ALTER TABLE ADD COLUMNS is an Iceberg schema change
--   (metadata only, no data file is rewritten); older rows read the new column as NULL.
--   ref: https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-alter-table-add-columns.html
-- * the stable staging table (Glue, Parquet): new columns are appended to the Glue schema; older
--   batches' Parquet files do not have them and read NULL.
--   ref: https://docs.aws.amazon.com/athena/latest/ug/alter-table-add-columns.html
-- Column names that begin with '_' are written in backticks (Hive DDL).
ALTER TABLE {{table}} ADD COLUMNS (
  {{columns}}
)
