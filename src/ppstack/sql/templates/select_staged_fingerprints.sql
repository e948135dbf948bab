-- select_staged_fingerprints: the key and fingerprint of every row of one staged batch.
-- `ppstack replay --dry-run` compares consecutive deliveries with it: after a batch is applied,
-- the current rows of the conformed table are exactly the batch's staged rows, so the changes a
-- delivery brings are the differences between its staged rows and the previous delivery's.
SELECT {{key}} AS entity_key, fingerprint
FROM {{staging_table}}
WHERE ingestion_batch_id = {{batch_id}}  -- one batch (also selects the staging prefix)
