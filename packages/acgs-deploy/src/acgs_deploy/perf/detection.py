"""Alert detection time: from injecting a fault to the alert reaching Alertmanager's receiver.

A trial injects the fault, then watches an alert source until a firing alert with the
expected name (and labels) appears that started after the injection, then clears the fault
and waits until the alert is gone before the next trial, so every trial starts from quiet.

Alert sources: `WebhookLog` (the JSONL file the demo webhook receiver writes: the
notification really arrived) and `AlertmanagerAlerts` (`/api/v2/alerts`: Alertmanager has it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from acgs_deploy.client import alerts

TARGET_S = 30.0
# Alertmanager 0.25 (dispatch.go, doMaintenance) drops empty aggregation groups every 30 s.
ALERTMANAGER_MAINTENANCE_S = 30.0


class AlertSource(Protocol):
    def firing(self, alertname: str, labels: Mapping[str, str], since: float) -> float | None:
        """When a matching firing alert arrived (epoch s), if one arrived after `since`."""


def _matches(alert: Mapping[str, Any], alertname: str, labels: Mapping[str, str]) -> bool:
    found = alert.get("labels", {})
    return found.get("alertname") == alertname and all(found.get(k) == v for k, v in labels.items())


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class WebhookLog:
    """A JSONL file with one webhook delivery per line.

    Lines are either Alertmanager's payload with `received_at` (epoch or ISO) added, or
    `{"received_at": ..., "payload": <Alertmanager's payload>}` (acgs_deploy.webhook).
    """

    path: Path
    _offset: int = field(default=0, init=False)

    def firing(self, alertname: str, labels: Mapping[str, str], since: float) -> float | None:
        if not self.path.exists():
            return None
        with self.path.open("rb") as log:
            log.seek(self._offset)
            lines = log.read().splitlines(keepends=True)
        for line in lines:
            if not line.endswith(b"\n"):
                break  # a delivery being written: read it next time
            self._offset += len(line)
            record = json.loads(line)
            payload = record.get("payload", record)
            received = record.get("received_at")
            when = float(received) if isinstance(received, int | float) else _epoch(received)
            if when < since or not isinstance(payload, dict):
                continue
            for alert in payload.get("alerts", []):
                if alert.get("status") == "firing" and _matches(alert, alertname, labels):
                    return when
        return None


@dataclass
class AlertmanagerAlerts:
    """Alertmanager's `/api/v2/alerts`: the alert counts as arrived when first seen active."""

    client: httpx.Client

    def active(self) -> list[dict[str, Any]]:
        return alerts(self.client, active=True)

    def firing(self, alertname: str, labels: Mapping[str, str], since: float) -> float | None:
        now = time.time()
        for alert in self.active():
            if _matches(alert, alertname, labels) and _epoch(alert["startsAt"]) >= since - 1:
                return now
        return None

    def gone(self, alertname: str, labels: Mapping[str, str]) -> bool:
        return not any(_matches(a, alertname, labels) for a in self.active())


@dataclass(frozen=True)
class DetectionResult:
    alertname: str
    times_s: list[float]
    timeouts: int
    worst_case_s: float | None = None

    @property
    def passed(self) -> bool:
        return not self.timeouts and bool(self.times_s) and max(self.times_s) < TARGET_S


def measure_detection(
    alertname: str,
    labels: Mapping[str, str],
    inject: Callable[[], None],
    clear: Callable[[], None],
    source: AlertSource,
    quiet: Callable[[], bool],
    trials: int = 3,
    timeout_s: float = 90.0,
    settle_s: float = 60.0,
    poll_s: float = 0.25,
    progress: Callable[[int], None] | None = None,
) -> DetectionResult:
    """Time `trials` fault injections; `quiet()` says the alert has resolved after `clear()`.

    After the alert resolves, the next trial waits `settle_s` (Alertmanager's group_interval
    plus its 30 s maintenance pass): until the group's resolved notification is flushed and
    the empty group dropped, a new firing alert with the same labels joins the old group and
    is notified only at its next group_interval tick, not after group_wait.
    """
    times: list[float] = []
    timeouts = 0
    still_active = (
        f"{alertname}{dict(labels)} still active {timeout_s:.0f} s after clearing the fault"
    )
    # An alert active before the first trial (a fault left behind) needs the same settling.
    was_active = not quiet()
    for trial in range(trials):
        _wait(quiet, timeout_s, still_active)
        if trial or was_active:
            time.sleep(settle_s)
        injected = time.time()
        inject()
        try:
            arrived = None
            deadline = time.monotonic() + timeout_s
            while arrived is None and time.monotonic() < deadline:
                arrived = source.firing(alertname, labels, injected)
                if arrived is None:
                    time.sleep(poll_s)
        finally:
            clear()
        if arrived is None:
            timeouts += 1
        else:
            times.append(arrived - injected)
        if progress is not None:
            progress(trial + 1)
    _wait(quiet, timeout_s, still_active)
    return DetectionResult(alertname, times, timeouts)


def _wait(predicate: Callable[[], bool], timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(message)
        time.sleep(0.5)


def configured_worst_case_s(
    scrape_interval_s: float, evaluation_interval_s: float, for_s: float, group_wait_s: float
) -> float:
    """The configured worst case: the fault lands just after a scrape, the evaluation runs just
    before the sample arrives, `for` must elapse (checked at evaluations), then group_wait."""
    return scrape_interval_s + evaluation_interval_s + for_s + evaluation_interval_s + group_wait_s
