"""Crashes for the chaos suite and the crash benchmarks: ``kill -9`` a component of a
deployed stack, and repair it with the stack's own deploy."""

from __future__ import annotations

import os
import signal
import time

from acgs_deploy import backends
from acgs_deploy.backends.base import Report
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.process import ProcessManager
from acgs_deploy.settings import StackSettings
from acgs_testkit.waiting import wait_for

__all__ = ["kill_9", "repair"]


def kill_9(settings: StackSettings, name: str) -> int:
    """SIGKILL the running component ``name`` (no chance to save anything) and wait until the
    stack sees it gone; returns the pid that was killed."""
    manager = ProcessManager(settings.layout.run_dir, settings.layout.logs_dir)
    pid = manager.running(name)
    if pid is None:
        raise AssertionError(f"{name} is not running, nothing to kill")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: manager.running(name) is None, 10, f"{name} to die")
    return pid


def repair(settings: StackSettings) -> tuple[Report, float]:
    """``invoke deploy`` as an operator runs it after a crash (demo mode as last deployed);
    its report and how long it took in seconds."""
    started = time.monotonic()
    report = backends.deploy(LocalBackend(settings))
    return report, time.monotonic() - started
