"""Query load in the background, for tests that check something works while Prometheus is busy."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

__all__ = ["NO_ANSWER", "query_load"]

NO_ANSWER = 0  # the status recorded for a request that got no HTTP answer at all


@contextmanager
def query_load(
    client: Callable[[], httpx.Client],
    query: str,
    *,
    window_s: float = 60,
    step: str = "1s",
    workers: int = 3,
) -> Iterator[list[int]]:
    """``workers`` threads run ``query`` over the last ``window_s`` seconds, back to back, each
    on a client of its own, until the block ends; yields the HTTP statuses they got (filled
    as they go, complete after the block; ``NO_ANSWER`` while Prometheus did not answer)."""
    stop = threading.Event()
    statuses: list[int] = []

    def run() -> None:
        with client() as session:
            while not stop.is_set():
                now = time.time()
                params: dict[str, str | float] = {
                    "query": query,
                    "start": now - window_s,
                    "end": now,
                    "step": step,
                }
                try:
                    response = session.get("/api/v1/query_range", params=params)
                except httpx.TransportError:
                    # Prometheus is down (a crash test): keep trying, as a dashboard would.
                    statuses.append(NO_ANSWER)
                    stop.wait(0.2)
                    continue
                statuses.append(response.status_code)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        for thread in threads:
            thread.join()
