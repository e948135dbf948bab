"""The batch report every run ends with: counts, DynamoDB writes by kind, time per step."""

from __future__ import annotations

from ppstack.pipeline.ledger import BatchRecord
from ppstack.pipeline.run import report


def test_report_shows_counts_writes_by_kind_and_timings() -> None:
    r = BatchRecord(entity="DRUG", source="FDA_NDC", ingest_date="2019-04-30",
                    batch_id="20190430T060000.000000Z", final_state="synced")
    r.state = "synced"
    r.counts.update(read=2839, staged=2584, rejected=0, inserted=54, updated=81, deleted=54)
    r.dynamodb = {"writes": 3378, "history_puts": 135, "current_puts": 135,
                  "current_updates": 54, "token_puts": 2000, "token_deletes": 1054,
                  "conditional_skips": 0}
    r.timings.update(stage=0.7, close=0.09, insert=0.12, sync=1.13)
    text = report(r)
    assert "inserted           54" in text and "deleted            54" in text
    assert "3,378 writes (history 135, current 189, search +2,000 -1,054, skipped 0)" in text
    assert "time sync       1.13 s" in text
