"""Local servers a home starts are listed, stoppable, and stopped by the command that needed
them: ``ppstack services [stop]``, ``serve`` and ``demo`` (with Ctrl-C and ``--no-serve``).

Each test runs ppstack as a real subprocess with its own home and then looks for any process
whose command line names that home (the DynamoDB server is started with ``--path <home>/...``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_DROP = ("PPSTACK_DYNAMODB_ENDPOINT", "PPSTACK_DYNAMODB_TABLE", "PPSTACK_HOME")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
    env["PPSTACK_DYNAMODB_PORT"] = "0"  # any free port: never another test's server
    return env


def ppstack(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ppstack", "--home", str(home), *args],
                          env=_env(), capture_output=True, text=True, timeout=timeout)


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ppstack", "--home", str(home), *args],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def processes_of(home: Path) -> list[str]:
    """Command lines of live processes that name ``home`` (this test process excluded)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split(") ", 1)[1][:1]
        except (OSError, IndexError):
            continue
        if str(home) in cmdline and state != "Z":
            found.append(f"{proc.name}: {cmdline}")
    return found


def wait_for(predicate, seconds: float = 60) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def read_line_with(proc: subprocess.Popen[str], text: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if text in line:
            return line
    raise AssertionError(f"{text!r} never printed; stderr: "
                         f"{proc.stderr.read() if proc.stderr else ''}")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs /proc to find processes")
    home = tmp_path / "home"
    yield home
    leftovers = processes_of(home)
    for line in leftovers:  # never leave a server behind, even when the test failed
        os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)


def services(home: Path) -> list[dict]:
    result = ppstack(home, "services", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_services_serve_is_listed_and_ctrl_c_stops_its_dynamodb(home: Path) -> None:
    proc = start(home, "serve", "--port", "0")
    try:
        base = read_line_with(proc, "http://").strip()
        listed = {s["name"]: s for s in services(home)}
        assert set(listed) == {"dynamodb", "api"}
        assert listed["api"]["pid"] == proc.pid and listed["api"]["url"] == base
        assert listed["dynamodb"]["port"] and proc.pid in listed["dynamodb"]["users"]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert proc.returncode in (0, 130)
    finally:
        proc.kill()
    assert wait_for(lambda: not processes_of(home), 10), processes_of(home)
    assert services(home) == []


def test_services_stop_stops_a_running_serve(home: Path) -> None:
    proc = start(home, "serve", "--port", "0")
    try:
        read_line_with(proc, "http://")
        stopped = ppstack(home, "services", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped api" in stopped.stdout and "stopped dynamodb" in stopped.stdout
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert wait_for(lambda: not processes_of(home), 10), processes_of(home)


def test_services_a_command_that_started_dynamodb_stops_it(home: Path) -> None:
    result = ppstack(home, "sync", "DRUG", "--rebuild")  # needs DynamoDB; conformed is empty
    assert "Traceback" not in result.stderr
    assert (home / "dynamodb.log").exists() or result.returncode != 0
    assert not processes_of(home)


@pytest.mark.slow
def test_services_demo_no_serve_leaves_no_process_running(home: Path) -> None:
    result = ppstack(home, "-q", "demo", "--no-serve", "--port", "0", timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (home / "dynamodb.log").exists()  # it did start a DynamoDB server ...
    assert not processes_of(home)  # ... and nothing it started is left running
    assert services(home) == []


@pytest.mark.slow
def test_services_ctrl_c_on_demo_stops_everything(home: Path) -> None:
    proc = start(home, "-q", "demo", "--port", "0")
    try:
        read_line_with(proc, "=== DRUG FDA_NDC")  # ingesting the first delivery
        assert wait_for(lambda: any(s["name"] == "dynamodb" for s in services(home)), 120)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
        code = proc.returncode
    finally:
        proc.kill()
    assert code == 130, err
    assert "Traceback" not in err and "ppstack" in err.splitlines()[-1]
    assert wait_for(lambda: not processes_of(home), 10), processes_of(home)
