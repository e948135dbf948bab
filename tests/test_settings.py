"""Settings: one name each, parsed once from text (environment, flags), refused when malformed."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from ppstack.errors import BadInput
from ppstack.settings import SETTINGS, Settings, load_settings


def test_every_setting_has_one_name() -> None:
    names = [s.name for s in SETTINGS]
    assert names == [f.name for f in fields(Settings)]
    assert not [n for n in vars(Settings) if isinstance(vars(Settings)[n], property)
                and n != "home_path"]


def test_numbers_are_parsed_from_text_and_from_with_(tmp_path: Path) -> None:
    s = load_settings(home=str(tmp_path), mass_delete_threshold="0.1", lock_stale_seconds="0",
                      raw_retention_days="30")
    assert (s.mass_delete_threshold, s.lock_stale_seconds, s.raw_retention_days) == (0.1, 0.0, 30)
    assert s.with_(mass_delete_threshold="0.2").mass_delete_threshold == 0.2
    assert s.with_(raw_retention_days=7).raw_retention_days == 7


@pytest.mark.parametrize(("name", "value"), [
    ("mass_delete_threshold", "1.5"), ("mass_delete_threshold", "half"),
    ("raw_retention_days", "-1"), ("lock_stale_seconds", "soon"),
    ("duckdb_memory_limit", "lots"), ("backend", "gcp")])
def test_malformed_values_are_refused(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(BadInput):
        load_settings(home=str(tmp_path), **{name: value})


def test_environment_is_read_when_called(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPSTACK_DUCKDB_MEMORY_LIMIT", "256MB")
    assert load_settings(home=str(tmp_path)).duckdb_memory_limit == "256MB"


def test_local_engine_applies_the_memory_limit(tmp_path: Path) -> None:
    from ppstack.engine.local import LocalEngine

    engine = LocalEngine(load_settings(home=str(tmp_path), duckdb_memory_limit="256MB"))
    try:
        limit, spill = engine.con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()[0]
    finally:
        engine.close()
    assert limit.replace(" ", "") in ("256.0MB", "244.1MiB") and spill.startswith(str(tmp_path))
