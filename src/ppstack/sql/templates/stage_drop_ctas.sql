-- Layer 2: drop one per-batch CTAS table once its files are written. The CTAS used
-- external_location, so the table is EXTERNAL and DROP TABLE removes only the Glue entry; the
-- Parquet files stay and are read through the stable table's partition projection.
-- IF EXISTS: a re-run after a crash between CTAS and DROP must not fail.
-- ref: https://docs.aws.amazon.com/athena/latest/ug/drop-table.html
DROP TABLE IF EXISTS {{staging_db}}.{{drop_table}}
