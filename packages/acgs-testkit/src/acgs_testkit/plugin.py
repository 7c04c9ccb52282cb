"""The pytest fixtures every package's tests share, loaded through acgs-testkit's ``pytest11``
entry point wherever it is installed (the workspace's dev environment): a fixture written
once here, not copied into several conftests.

- ``certs``: a test CA with server and client certificates (:func:`acgs_testkit.ca.make_certs`);
- ``run_sim``: start :class:`~acgs_testkit.sim.SimProcess` instances through it; each one
  still running is stopped after the test, even when it fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from acgs_testkit.ca import Certs, make_certs
from acgs_testkit.sim import SimProcess


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


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
