-- Layer 2: the Glue database holding staging.<entity>_batch / <entity>_rejects and the short-lived
-- per-batch CTAS tables. Idempotent (IF NOT EXISTS).
-- ref: https://docs.aws.amazon.com/athena/latest/ug/create-database.html
CREATE DATABASE IF NOT EXISTS {{staging_db}}
