"""Replay against an independent model, over random delivery sequences (hypothesis), and its
determinism.

A sequence is the order in which the scenario's dated deliveries arrive, with late ones (a date
earlier than one already applied) and repeated ones (the same date delivered again, with the
same bytes or with other bytes). Each arrival is archived and run as an operator would; then the
whole archive is replayed. Properties:

- every arrival is handled without a traceback: applied, already complete, refused as late
  (naming the replay command), or refused by the write-once archive (other bytes, same date);
- the replay's history equals the model's (``replay_support.model_versions``: SCD2 over the
  scenario's own record of each date's changes, written independently of the pipeline);
- when nothing arrived late, the replay gives back the batch-by-batch run's business history;
- DynamoDB matches the replayed table (``reconcile`` is empty).

Examples are few and the deliveries small, so the test stays quick on a loaded machine.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
import replay_support as support
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ppstack.backends import Runtime
from ppstack.entities import DRUG, SOURCES
from ppstack.errors import AlreadyExists, Refused
from ppstack.pipeline.replay import replay
from ppstack.pipeline.run import run_batch
from ppstack.raw.archive import archive
from ppstack.scenario import Scenario
from ppstack.serving.reconcile import reconcile
from ppstack.settings import Settings, load_settings

DATES = ["2019-04-29", "2019-04-30", "2019-05-01"]


@pytest.fixture(scope="module")
def scn(sample_files: dict, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return support.scenario(sample_files, tmp_path_factory.mktemp("replay-model"), DATES,
                            products=25)


def fresh(settings: Settings, home: Path) -> Runtime:
    return Runtime(load_settings(backend="local", home=str(home),
                                 dynamodb_endpoint=settings.dynamodb_endpoint,
                                 dynamodb_table=f"t-{uuid.uuid4().hex[:12]}"))


# An arrival: (index into DATES, whether a repeat brings other bytes than the first delivery).
arrivals = st.permutations(range(len(DATES))).flatmap(
    lambda order: st.lists(st.tuples(st.sampled_from(order), st.booleans()), max_size=2).map(
        lambda repeats: [(i, False) for i in order] + repeats))


def arrive(rt: Runtime, scn: Scenario, index: int, other_bytes: bool, seen: set[int]) -> str:
    """Archive one arrival and run it; what happened, in one word."""
    date = DATES[index]
    if index in seen and other_bytes:
        other = DATES[(index + 1) % len(DATES)]
        with pytest.raises(AlreadyExists):
            archive(rt, DRUG, SOURCES["FDA_NDC"], list(scn.files(other)), date)
        return "refused by the archive"
    support.archive_date(rt, scn, date)
    seen.add(index)
    try:
        record = run_batch(rt, DRUG, "FDA_NDC", date, allow_mass_delete=True)
    except Refused as e:
        assert str(e).endswith(f"ppstack replay DRUG --from {date}"), e
        return "late"
    assert record.complete
    return "applied"


@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=arrivals)
@example(sequence=[(2, False), (0, False), (1, False), (0, True), (2, False)])  # late + repeats
@example(sequence=[(0, False), (1, False), (2, False), (1, False)])  # in order, a repeat
def test_replay_of_any_arrival_order_gives_the_models_history(
        sequence: list[tuple[int, bool]], scn: Scenario, settings: Settings) -> None:
    with tempfile.TemporaryDirectory(prefix="replay-prop-") as home:
        rt = fresh(settings, Path(home))
        try:
            seen: set[int] = set()
            outcomes = [arrive(rt, scn, i, other, seen) for i, other in sequence]
            in_order = "late" not in outcomes
            before = support.conformed(rt)
            replay(rt, DRUG, allow_mass_delete=True)
            assert support.table_versions(rt) == support.model_versions(scn, DATES)
            if in_order:
                assert support.conformed(rt) == before
            assert reconcile(rt, DRUG) == []
        finally:
            rt.close()


def test_replaying_the_same_archive_twice_is_deterministic(scn: Scenario, settings: Settings,
                                                           tmp_path: Path) -> None:
    """Identical conformed content but for the columns naming the run (ingestion batch id and
    time, opening batch id) and identical DynamoDB items but for the attributes naming it."""
    rt = fresh(settings, tmp_path / "home")
    try:
        for date in DATES:
            support.archive_date(rt, scn, date)
        replay(rt, DRUG, allow_mass_delete=True)
        first_rows, first_items = support.conformed(rt), support.dynamodb_items(rt)
        replay(rt, DRUG, allow_mass_delete=True)
        assert support.conformed(rt) == first_rows
        assert support.dynamodb_items(rt) == first_items
        assert reconcile(rt, DRUG) == []
    finally:
        rt.close()
