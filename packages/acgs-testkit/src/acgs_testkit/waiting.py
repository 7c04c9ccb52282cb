"""Waiting for a condition, and stopping a process: the one loop of each."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["stop_process", "wait_for"]

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T | None],
    timeout_s: float = 20.0,
    what: str = "",
    every_s: float = 0.2,
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that; after
    ``timeout_s`` an AssertionError names ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout_s
    last = predicate()
    while last is None or not last:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s:g} s waiting for {what or repr(predicate)} "
                f"(last: {last!r})"
            )
        time.sleep(every_s)
        last = predicate()
    return last


def stop_process(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout_s: float = 15.0
) -> int:
    """SIGTERM, wait; SIGKILL only if it does not stop in time. Returns the exit code."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
