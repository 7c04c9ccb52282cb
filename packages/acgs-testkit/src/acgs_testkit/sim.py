"""The real ``acgs-sim`` command as a subprocess on free ports, and reading its /metrics.

For tests and benchmarks that need live ACGS services (the ``run_sim`` fixture of
:mod:`acgs_testkit.plugin` stops every one a test started):

    sim = SimProcess(free_base_port(), "--seed", "7")
    sim.start()            # waits until every service answers /health
    try:
        ...                # sim.url("gs"), sim.port("gs")
    finally:
        sim.terminate()    # SIGTERM; returns the exit code
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from prometheus_client.parser import text_string_to_metric_families

from acgs_metrics import SERVICE_NAMES
from acgs_metrics.services import instance_port
from acgs_testkit.ports import free_port_block
from acgs_testkit.waiting import ServerExited, poll, stop_process

__all__ = ["ACGS_SIM", "Sample", "SimProcess", "free_base_port", "parse_metrics"]

ACGS_SIM = Path(sys.executable).with_name("acgs-sim")


def free_base_port(replicas: int = 1) -> int:
    """A base port whose ``7 * replicas`` service ports are all free right now."""
    return free_port_block(len(SERVICE_NAMES) * replicas)


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse_metrics(text: str) -> list[Sample]:
    return [
        Sample(sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


class SimProcess:
    """One ``acgs-sim`` subprocess. Call :meth:`terminate` in a ``finally``."""

    def __init__(
        self,
        base_port: int,
        *args: str,
        services: Sequence[str] = SERVICE_NAMES,
        scheme: str = "http",
        env: dict[str, str] | None = None,
        replicas: int = 1,
    ) -> None:
        self.base_port = base_port
        self.services = list(services)
        self.replicas = replicas
        self.scheme = scheme
        self.args = [
            str(ACGS_SIM),
            "--base-port",
            str(base_port),
            "--services",
            ",".join(services),
            f"--replicas={replicas}",
            *args,
        ]
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self._stdout: IO[str] | None = None
        self._stderr: IO[str] | None = None

    def port(self, service: str, replica: int = 0) -> int:
        return instance_port(service, self.base_port, replica)

    def url(self, service: str, replica: int = 0) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port(service, replica)}"

    def targets(self) -> list[str]:
        """``127.0.0.1:PORT`` of every instance of every service it runs."""
        return [
            f"127.0.0.1:{self.port(service, replica)}"
            for replica in range(self.replicas)
            for service in self.services
        ]

    def start(self, client: httpx.Client | None = None, timeout: float = 20.0) -> None:
        # Files, not pipes: a long run must never block on a full pipe nobody reads.
        self._stdout = tempfile.TemporaryFile("w+")  # noqa: SIM115 (lives as long as the process)
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.args, stdout=self._stdout, stderr=self._stderr, text=True, env=self.env
        )
        # A fleet answers more /health checks, each waited for in turn on a busy machine.
        timeout += 2.0 * (self.replicas - 1)
        try:
            with client or httpx.Client(timeout=2.0) as probe:
                self._wait_until_healthy(probe, timeout)
        except BaseException:
            self.terminate()  # a failed start leaves nothing running
            raise

    def _wait_until_healthy(self, client: httpx.Client, timeout: float) -> None:
        process = self.process
        assert process is not None
        waiting = {(s, r) for s in self.services for r in range(self.replicas)}

        def healthy() -> bool:
            if process.poll() is not None:
                out, err = self.output()
                raise ServerExited(f"acgs-sim exited {process.returncode}: {err}{out}")
            for service, replica in sorted(waiting):
                try:
                    if client.get(f"{self.url(service, replica)}/health").status_code == 200:
                        waiting.discard((service, replica))
                except httpx.TransportError:
                    pass
            return not waiting

        if not poll(healthy, bool, timeout, every_s=0.1):
            raise RuntimeError(f"acgs-sim services {sorted(waiting)} did not answer /health")

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; SIGKILL only if it does not stop in time."""
        assert self.process is not None
        return stop_process(self.process, timeout)

    def output(self) -> tuple[str, str]:
        """What the process printed so far: (stdout, stderr)."""
        texts = []
        for stream in (self._stdout, self._stderr):
            assert stream is not None
            stream.flush()
            stream.seek(0)
            texts.append(stream.read())
        return texts[0], texts[1]
