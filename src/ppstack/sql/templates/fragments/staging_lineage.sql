-- [fragment staging_lineage] The lineage every staged row carries, the same for every entity:
-- the batch's business date E (the date the source published the file), the file date, the
-- run's timestamp and batch id (docs/data-rules.md#staging).
{{effective_date}} AS source_effective_date,
{{file_date}} AS source_file_date,
{{ingestion_timestamp}} AS ingestion_timestamp,
{{batch_id}} AS ingestion_batch_id
