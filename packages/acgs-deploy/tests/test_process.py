from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from acgs_deploy.commandlines import prometheus_command
from acgs_deploy.process import ProcessManager, ProcessSpec
from acgs_testkit.waiting import stop_process, wait_for


def wait_for_log(manager: ProcessManager, name: str, text: str) -> None:
    log = manager.log_file(name)
    wait_for(lambda: text in log.read_text(), 30, f"{name} to log {text!r}", every_s=0.02)


SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[ProcessManager]:
    processes = ProcessManager(tmp_path / "run", tmp_path / "logs")
    try:
        yield processes
    finally:
        for name in processes.recorded():
            processes.stop(name, timeout=2)


def test_start_find_stop(manager: ProcessManager) -> None:
    pid = manager.start(ProcessSpec("sleeper", SLEEPER))
    assert manager.running("sleeper") == pid
    wait_for_log(manager, "sleeper", "up")
    assert manager.recorded() == ["sleeper"]
    assert os.getsid(pid) == pid  # its own session: it outlives the deploy command
    assert manager.stop("sleeper")
    assert manager.running("sleeper") is None
    assert not manager.pid_file("sleeper").exists()


def test_a_process_is_known_as_soon_as_start_returns(
    manager: ProcessManager, tmp_path: Path
) -> None:
    """A large binary takes a moment to exec; `running` and `stop` must know it at once (a
    restore that stopped right after a failed start once left such a Prometheus behind)."""
    for attempt in range(20):
        argv = prometheus_command(
            config=Path("/dev/null"), data=tmp_path / f"data{attempt}", listen="127.0.0.1:0"
        )
        pid = manager.start(ProcessSpec("prometheus", argv))
        assert manager.running("prometheus") == pid, f"attempt {attempt}"
        assert manager.stop("prometheus", timeout=5)
        assert not Path(f"/proc/{pid}").exists() or manager.running("prometheus") is None


def test_killed_process_is_not_running(manager: ProcessManager) -> None:
    pid = manager.start(ProcessSpec("sleeper", SLEEPER))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert manager.running("sleeper") is None


def test_a_foreign_process_with_the_recorded_pid_is_left_alone(
    manager: ProcessManager, tmp_path: Path
) -> None:
    foreign = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # A stale pid file that now points at someone else's process (pid reuse).
        manager.run_dir.mkdir(parents=True, exist_ok=True)
        manager.pid_file("sleeper").write_text(
            f'{{"pid": {foreign.pid}, "argv": ["prometheus"], "start": 1}}'
        )
        assert manager.running("sleeper") is None
        assert not manager.stop("sleeper")
        assert foreign.poll() is None
    finally:
        stop_process(foreign)


def test_stop_escalates_to_sigkill(manager: ProcessManager) -> None:
    stubborn = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)",
    ]
    manager.start(ProcessSpec("stubborn", stubborn))
    wait_for_log(manager, "stubborn", "ready")
    assert manager.stop("stubborn", timeout=0.5)
    assert manager.running("stubborn") is None
