"""Clean failures (docs/operations.md#failure-and-resume): a dead DynamoDB server, an object store
that refuses writes, a full disk while writing renditions, staging or Iceberg data, and Ctrl-C
at each step each end with one or two lines naming what failed and the command that resumes,
exit 1 (130 for Ctrl-C), no traceback; the same command run again ends in the state an
uninterrupted run reaches.

Faults are injected at the boundary where the real one would surface (the object store's write,
the local engine's Parquet and Iceberg writers, the DynamoDB client), and ppstack is driven
through ``cli.main.main`` exactly as the console script runs it.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deliveries import cut
from ppstack.backends import Runtime
from ppstack.cli.main import main
from ppstack.serving.reconcile import reconcile
from ppstack.settings import Settings, load_settings

DATE = "2019-04-29"
STATE_SQL = ("SELECT ndc, fingerprint, active_from, active_to, is_current "
             "FROM conformed.drug ORDER BY ndc, active_from")


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str,
        endpoint: str | None = None) -> tuple[int, str]:
    argv = ["--home", settings.home, "-q", *args]
    env = {"PPSTACK_DYNAMODB_ENDPOINT": endpoint or settings.dynamodb_endpoint,
           "PPSTACK_DYNAMODB_TABLE": settings.dynamodb_table}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
    return int(exit_info.value.code or 0), capsys.readouterr().err


def state(settings: Settings) -> list[tuple[Any, ...]]:
    with Runtime(settings) as rt:
        rows = rt.engine.execute(STATE_SQL).rows
        assert reconcile(rt, "DRUG") == []
    return rows


@pytest.fixture(scope="module")
def reference(sample_files: dict[str, Path], dynalite_endpoint: str,
              tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    """The state an uninterrupted ingest reaches."""
    base = tmp_path_factory.mktemp("reference")
    settings = load_settings(backend="local", home=str(base / "home"),
                             dynamodb_endpoint=dynalite_endpoint, dynamodb_table="reference")
    files = [str(f) for f in cut(sample_files, base / "in", 40)]
    argv = ["--home", settings.home, "-q", "ingest", "DRUG", "FDA_NDC", *files, "--date", DATE]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPSTACK_DYNAMODB_ENDPOINT", dynalite_endpoint)
        mp.setenv("PPSTACK_DYNAMODB_TABLE", "reference")
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
    assert exit_info.value.code == 0
    return state(settings)


def _dead_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens


def _fail(exc: BaseException, when: Callable[..., bool] = lambda *a, **k: True
          ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a function so that it raises ``exc`` (once) when ``when(*args)`` holds."""
    fired: list[bool] = []

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def faulty(*args: Any, **kwargs: Any) -> Any:
            if not fired and when(*args, **kwargs):
                fired.append(True)
                raise exc
            return real(*args, **kwargs)
        return faulty
    return wrap


def enospc(path: str = "/home/ppstack") -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", path)


def _patch(mp: pytest.MonkeyPatch, target: Any, name: str, wrap: Callable[..., Any]) -> None:
    mp.setattr(target, name, wrap(getattr(target, name)))


def rendition_put(mp: pytest.MonkeyPatch, exc: BaseException) -> None:
    from ppstack.storage.local import LocalObjectStore

    _patch(mp, LocalObjectStore, "put", _fail(exc, lambda self, key, *a, **k:
                                              key.startswith("raw_tabular/")))


def ledger_put(mp: pytest.MonkeyPatch, exc: BaseException) -> None:
    from ppstack.storage.local import LocalObjectStore

    _patch(mp, LocalObjectStore, "put", _fail(exc, lambda self, key, *a, **k:
                                              key.startswith("batches/")))


def staging_write(mp: pytest.MonkeyPatch, exc: BaseException) -> None:
    from ppstack.engine import external

    _patch(mp, external, "write_parquet_atomically", _fail(exc))


def statement(marker: str) -> Callable[[pytest.MonkeyPatch, BaseException], None]:
    def inject(mp: pytest.MonkeyPatch, exc: BaseException) -> None:
        from ppstack.engine.local import LocalEngine

        _patch(mp, LocalEngine, "execute", _fail(exc, lambda self, sql, *a, **k:
                                                 sql.lstrip().upper().startswith(marker)
                                                 or f"\n{marker}" in sql.upper()))
    return inject


def iceberg_write(mp: pytest.MonkeyPatch, exc: BaseException) -> None:
    from ppstack.engine.iceberg import IcebergStore

    _patch(mp, IcebergStore, "append", _fail(exc))


def sync_write(mp: pytest.MonkeyPatch, exc: BaseException) -> None:
    from ppstack.serving.apply import Applier

    _patch(mp, Applier, "apply", _fail(exc))


FAULTS: dict[str, tuple[Callable[[pytest.MonkeyPatch, BaseException], None], BaseException,
                        int, str]] = {
    "enospc-renditions": (rendition_put, enospc(), 1, "disk is full"),
    "read-only-store": (ledger_put, OSError(errno.EROFS, "Read-only file system",
                                            "/home/s3/batches"), 1, "cannot write"),
    "enospc-staging": (staging_write, enospc(), 1, "disk is full"),
    "enospc-iceberg": (iceberg_write, enospc(), 1, "disk is full"),
    "ctrl-c-stage": (staging_write, KeyboardInterrupt(), 130, "interrupted"),
    "ctrl-c-close": (statement("MERGE"), KeyboardInterrupt(), 130, "interrupted"),
    "ctrl-c-insert": (statement("INSERT INTO"), KeyboardInterrupt(), 130, "interrupted"),
    "ctrl-c-sync": (sync_write, KeyboardInterrupt(), 130, "interrupted"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_faults_clean_message_exit_code_and_resume(fault: str, settings: Settings,
                                                   sample_files: dict[str, Path], tmp_path: Path,
                                                   reference: list[tuple[Any, ...]],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    inject, exc, code, words = FAULTS[fault]
    files = [str(f) for f in cut(sample_files, tmp_path / "in", 40)]
    args = ("ingest", "DRUG", "FDA_NDC", *files, "--date", DATE)
    with pytest.MonkeyPatch.context() as mp:
        inject(mp, exc)
        got, err = run(settings, capsys, *args)
    assert got == code, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("batch", " "))]
    assert words in err and 1 <= len(err.strip().splitlines()) <= 2, err
    assert f"ppstack --home {settings.home} -q ingest DRUG FDA_NDC" in lines[-1], err
    again, err = run(settings, capsys, *args)  # the command the message names
    assert again == 0, err
    assert state(settings) == reference


def test_faults_dead_dynamodb_server_mid_sync(settings: Settings, sample_files: dict[str, Path],
                                              tmp_path: Path, reference: list[tuple[Any, ...]],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(f) for f in cut(sample_files, tmp_path / "in", 40)]
    args = ("ingest", "DRUG", "FDA_NDC", *files, "--date", DATE)
    got, err = run(settings, capsys, *args, endpoint=_dead_port())
    assert got == 1 and "Traceback" not in err, err
    assert "DynamoDB server" in err and "resume with: ppstack" in err, err
    assert len(err.strip().splitlines()) <= 2
    again, err = run(settings, capsys, *args)
    assert again == 0, err
    assert state(settings) == reference


def test_faults_debug_shows_the_traceback(settings: Settings, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    got, err = run(settings, capsys, "--debug", "sync", "DRUG", "--batch-id",
                   "20190429T060000.000000Z", endpoint=_dead_port())
    assert got == 1 and "Traceback" in err
