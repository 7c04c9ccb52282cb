"""Fault injection: the six faults, their values, and one service's board of active faults.

A fault is set with ``POST /control/faults`` ``{"fault": NAME, "value": V, "duration_s": S}``
and lasts ``duration_s`` seconds (until cleared when omitted). Setting a fault that is
already active replaces it.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "FAULT_DEFAULTS",
    "Fault",
    "FaultBoard",
    "FaultName",
    "FaultRequestError",
    "parse_fault_request",
]


class FaultName(StrEnum):
    COMPLIANCE_DROP = "compliance_drop"
    ERROR_RATE = "error_rate"
    SLOW_SYNTHESIS = "slow_synthesis"
    UNRESPONSIVE = "unresponsive"
    COST_SPIKE = "cost_spike"
    SLOW_BACKEND = "slow_backend"


@dataclass(frozen=True)
class FaultValue:
    default: float
    low: float
    high: float
    meaning: str


# What `value` means for each fault, its default and the range it must lie in.
FAULT_DEFAULTS: dict[FaultName, FaultValue] = {
    FaultName.COMPLIANCE_DROP: FaultValue(0.5, 0.0, 1.0, "every principle's compliance score"),
    FaultName.ERROR_RATE: FaultValue(0.5, 0.0, 1.0, "fraction of API requests answered 5xx"),
    FaultName.SLOW_SYNTHESIS: FaultValue(10.0, 0.01, 300.0, "policy synthesis time, seconds"),
    FaultName.UNRESPONSIVE: FaultValue(30.0, 0.1, 600.0, "longest a request hangs, seconds"),
    FaultName.COST_SPIKE: FaultValue(10.0, 1.0, 1000.0, "factor on governance action costs"),
    FaultName.SLOW_BACKEND: FaultValue(2.0, 0.01, 60.0, "seconds added to every API request"),
}
MAX_DURATION_S = 7 * 24 * 3600.0


class FaultRequestError(ValueError):
    """A fault request that cannot be applied; the message says what to send instead."""


@dataclass(frozen=True)
class Fault:
    name: FaultName
    value: float
    duration_s: float | None
    started_at: float  # wall clock, for people
    started: float  # monotonic, for expiry

    def expired(self, now: float) -> bool:
        return self.duration_s is not None and now - self.started >= self.duration_s

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        remaining = None
        if self.duration_s is not None:
            remaining = round(max(0.0, self.duration_s - (now - self.started)), 3)
        return {
            "fault": self.name.value,
            "value": self.value,
            "duration_s": self.duration_s,
            "remaining_s": remaining,
            "started_at": datetime.fromtimestamp(self.started_at, UTC).isoformat(),
        }


def parse_fault_request(body: object) -> tuple[FaultName, float, float | None]:
    """Check a decoded ``POST /control/faults`` body: (fault, value, duration_s)."""
    if not isinstance(body, dict):
        raise FaultRequestError(
            'send a JSON object like {"fault": "error_rate", "value": 0.5, "duration_s": 60}'
        )
    unknown = sorted(set(body) - {"fault", "value", "duration_s"})
    if unknown:
        raise FaultRequestError(
            f"unknown field(s) {', '.join(unknown)}; fields: fault, value, duration_s"
        )
    raw_name = body.get("fault")
    try:
        name = FaultName(str(raw_name))
    except ValueError:
        known = ", ".join(f.value for f in FaultName)
        raise FaultRequestError(
            f"field 'fault': {raw_name!r} is not a fault; known: {known}"
        ) from None
    spec = FAULT_DEFAULTS[name]
    value = _number(body, "value", spec.default)
    if not spec.low <= value <= spec.high:
        raise FaultRequestError(
            f"field 'value': {name.value} takes {spec.meaning} between {spec.low:g} "
            f"and {spec.high:g}, got {value:g}"
        )
    duration = _number(body, "duration_s", None)
    if duration is not None and not 0 < duration <= MAX_DURATION_S:
        raise FaultRequestError(
            f"field 'duration_s': seconds between 0 and {MAX_DURATION_S:g} "
            "(leave it out to keep the fault until cleared)"
        )
    return name, value, duration


def _number(body: dict[str, Any], field: str, default: float | None) -> Any:
    raw = body.get(field)
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise FaultRequestError(f"field {field!r}: expected a number, got {raw!r}")
    return float(raw)


class FaultBoard:
    """The faults active on one service. Thread-safe; expired faults vanish on read."""

    def __init__(self) -> None:
        self._faults: dict[FaultName, Fault] = {}
        self._changed = threading.Condition()

    def inject(self, name: FaultName, value: float, duration_s: float | None = None) -> Fault:
        fault = Fault(name, value, duration_s, time.time(), time.monotonic())
        with self._changed:
            self._faults[name] = fault
            self._changed.notify_all()
        return fault

    def clear(self, name: FaultName | None = None) -> int:
        """Clear one fault, or all of them; returns how many were active."""
        with self._changed:
            self._drop_expired()
            if name is None:
                count = len(self._faults)
                self._faults.clear()
            else:
                count = 1 if self._faults.pop(name, None) else 0
            self._changed.notify_all()
        return count

    def get(self, name: FaultName) -> Fault | None:
        fault = self._faults.get(name)
        if fault is not None and fault.expired(time.monotonic()):
            with self._changed:
                self._drop_expired()
            return None
        return fault

    def active(self) -> list[Fault]:
        with self._changed:
            self._drop_expired()
            return sorted(self._faults.values(), key=lambda f: f.started)

    def wait_while_active(self, name: FaultName, timeout: float) -> bool:
        """Block while ``name`` is active, at most ``timeout`` s; True if it ended."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                fault = self._faults.get(name)
                now = time.monotonic()
                if fault is None or fault.expired(now):
                    return True
                left = deadline - now
                if fault.duration_s is not None:
                    left = min(left, fault.duration_s - (now - fault.started))
                if deadline - now <= 0:
                    return False
                self._changed.wait(max(left, 0.01))

    def release_waiters(self) -> None:
        """Wake every request held by an ``unresponsive`` fault (used on shutdown)."""
        self.clear()

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for name in [n for n, f in self._faults.items() if f.expired(now)]:
            del self._faults[name]
