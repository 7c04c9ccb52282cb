"""Crashes for the chaos suite and the crash benchmarks: ``kill -9`` a component of a
deployed stack, repair it with the stack's own deploy, and Alertmanager silences by id."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import httpx

from acgs_deploy import backends
from acgs_deploy.backends.base import Report
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.process import ProcessManager
from acgs_deploy.settings import StackSettings
from acgs_testkit.waiting import wait_for

__all__ = ["kill_9", "live_silence_ids", "make_silence", "repair"]


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


def make_silence(client: httpx.Client, alertname: str, *, hours: float = 1.0) -> str:
    """A silence of ``alertname`` for ``hours`` from now, made through Alertmanager's API;
    its id."""
    now = dt.datetime.now(dt.UTC)
    body = {
        "matchers": [{"name": "alertname", "value": alertname, "isRegex": False}],
        "startsAt": now.isoformat(),
        "endsAt": (now + dt.timedelta(hours=hours)).isoformat(),
        "createdBy": "acgs-testkit",
        "comment": "made by a crash test",
    }
    response = client.post("/api/v2/silences", json=body)
    response.raise_for_status()
    return str(response.json()["silenceID"])


def live_silence_ids(client: httpx.Client) -> set[str]:
    """The ids of the silences Alertmanager holds that have not expired."""
    response = client.get("/api/v2/silences")
    response.raise_for_status()
    return {s["id"] for s in response.json() if s["status"]["state"] != "expired"}
