"""Waiting for a condition or a server, and stopping a process: the one loop of each.

- :func:`wait_for`: until a predicate returns something truthy (an AssertionError naming what
  was awaited and the last value otherwise);
- :func:`poll`: the same loop for a test that asserts on the last value itself, so that its
  failure shows what was seen;
- :func:`wait_ready`: until an HTTP server answers 200, failing at once, with the end of its
  log, when its process exits;
- :func:`stop_process`: SIGTERM, wait, SIGKILL.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

__all__ = ["ServerExited", "log_tail", "poll", "stop_process", "wait_for", "wait_ready"]

T = TypeVar("T")


class ServerExited(RuntimeError):
    """A process that was being waited for exited."""


def poll(
    fetch: Callable[[], T], done: Callable[[T], object], timeout_s: float, every_s: float = 0.2
) -> T:
    """Call ``fetch`` every ``every_s`` until ``done`` holds for its value or ``timeout_s`` has
    passed; the last value either way."""
    deadline = time.monotonic() + timeout_s
    value = fetch()
    while not done(value) and time.monotonic() <= deadline:
        time.sleep(every_s)
        value = fetch()
    return value


def wait_for(
    predicate: Callable[[], T | None],
    timeout_s: float = 20.0,
    what: str = "",
    every_s: float = 0.2,
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that; after
    ``timeout_s`` an AssertionError names ``what`` and the last value seen. Exceptions of
    the predicate propagate: a condition that cannot be evaluated is a failure."""
    last = poll(predicate, bool, timeout_s, every_s)
    if last is None or not last:
        raise AssertionError(
            f"timed out after {timeout_s:g} s waiting for {what or repr(predicate)} "
            f"(last: {last!r})"
        )
    return last


def log_tail(log: Path | None, size: int = 2000) -> str:
    """The end of a log file, for error messages ("" when there is none)."""
    if log is None or not log.is_file():
        return ""
    return log.read_text(errors="replace")[-size:]


def wait_ready(
    client: httpx.Client,
    path: str,
    *,
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None,
    log: Path | None = None,
    timeout_s: float = 30.0,
    what: str = "the server",
) -> None:
    """Until ``GET path`` through ``client`` answers 200. :class:`ServerExited` as soon as
    ``process`` exits, RuntimeError after ``timeout_s``; both end with the tail of ``log``."""

    def answered() -> bool:
        if process is not None and process.poll() is not None:
            raise ServerExited(f"{what} exited: {log_tail(log)}")
        try:
            return client.get(path).status_code == 200
        except httpx.TransportError:
            return False

    if not poll(answered, bool, timeout_s, every_s=0.1):
        raise RuntimeError(f"{what} not ready after {timeout_s:g} s: {log_tail(log)}")


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
