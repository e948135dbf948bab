-- Layer 1: the Glue database holding the minimal tables over raw renditions.
-- Idempotent (IF NOT EXISTS): bootstrap runs it before every first use.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/create-database.html
CREATE DATABASE IF NOT EXISTS {{raw_db}}
