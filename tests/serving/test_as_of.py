"""As-of reads (``api.service.get_as_of``) against a brute-force scan of the model's versions,
on tables the real sync wrote from random histories; every read makes at most two requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scd2_model import Scd2Model
from serving_support import KEYS, SPEC, dates, snapshots

from ppstack.api.service import get_as_of
from ppstack.backends import Runtime
from ppstack.errors import NotFound
from ppstack.serving.sync import sync_rows


class ReadCounter:
    """The real client, counting the requests an API read makes."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.requests = 0

    def get_item(self, **kw: Any) -> Any:
        self.requests += 1
        return self.client.get_item(**kw)

    def query(self, **kw: Any) -> Any:
        self.requests += 1
        return self.client.query(**kw)


def brute_force(model: Scd2Model, key: str, day: date) -> dict | None:
    """The one row of ``key`` with active_from <= day < active_to, scanning every row."""
    hits = [r for r in model.all_rows()
            if r["ndc"] == key and r["active_from"] <= day < r["active_to"]]
    assert len(hits) <= 1
    return hits[0] if hits else None


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(snaps=snapshots, data=st.data())
def test_as_of_equals_brute_force_in_two_requests_at_most(
    new_runtime: Callable[..., Runtime], snaps: list[dict], data: st.DataObject
) -> None:
    rt = new_runtime()
    model = Scd2Model(SPEC)
    for snap, day in zip(snaps, dates(len(snaps)), strict=True):
        b = model.apply(snap, day)
        sync_rows(rt, SPEC, b, model.batch_rows(b))
    known = sorted({r["ndc"] for r in model.all_rows()})
    first, last = dates(len(snaps))[0], dates(len(snaps))[-1]
    days = st.integers(min_value=-3, max_value=(last - first).days + 10).map(
        lambda n: first + timedelta(days=n))
    counter = ReadCounter(rt.dynamodb)
    for key, day in data.draw(st.lists(st.tuples(st.sampled_from(known or KEYS), days),
                                       min_size=1, max_size=8), label="reads"):
        counter.requests = 0
        want = brute_force(model, key, day)
        if want is None:
            with pytest.raises(NotFound) as exc:
                get_as_of(counter, rt.settings.dynamodb_table, SPEC, key, day.isoformat())
            if key in known:  # the message names the periods it was listed
                assert "was not listed on " + day.isoformat() in str(exc.value)
                assert "from " + min(r["active_from"] for r in model.all_rows()
                                     if r["ndc"] == key).isoformat() in str(exc.value)
        else:
            got = get_as_of(counter, rt.settings.dynamodb_table, SPEC, key, day.isoformat())
            assert got["fingerprint"] == want["fingerprint"]
            assert got["effective_from"] == want["active_from"].isoformat()
        assert counter.requests <= 2
