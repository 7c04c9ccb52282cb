"""Fixtures: acgs-sim subprocesses that are always stopped, even when a test fails."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from acgs_sim.testing import SimProcess


@pytest.fixture
def run_sim() -> Iterator[type[SimProcess]]:
    """Start SimProcesses through this factory; each is stopped after the test."""
    started: list[SimProcess] = []

    class Tracked(SimProcess):
        def start(self, client: httpx.Client | None = None, timeout: float = 20.0) -> None:
            started.append(self)
            super().start(client, timeout)

    try:
        yield Tracked
    finally:
        for sim in started:
            if sim.process is not None and sim.process.poll() is None:
                sim.terminate()
