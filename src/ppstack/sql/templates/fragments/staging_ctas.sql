-- [fragment staging_ctas] The head of a staging CTAS, included with the output's name: "staging"
-- (the batch: {{staging_ctas_table}} into {{staging_location}}) or "rejects" ({{rejects_ctas_table}}
-- into {{rejects_location}}). Athena writes a CTAS into a fresh, empty external_location (it
-- refuses a non-empty one, HIVE_PATH_ALREADY_EXISTS, so a batch can never be overwritten), as
-- Snappy Parquet; pipeline.stage drops the CTAS table afterwards and the files are read through
-- the stable table (partition projection on ingestion_batch_id).
-- ref: https://docs.aws.amazon.com/athena/latest/ug/considerations-ctas.html
CREATE TABLE {{staging_db}}.{{{{@}}_ctas_table}}
WITH (
  format = 'PARQUET',
  write_compression = 'SNAPPY',
  external_location = '{{{{@}}_location}}'
) AS
