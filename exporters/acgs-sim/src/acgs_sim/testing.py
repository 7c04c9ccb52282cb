"""Run the real ``acgs-sim`` command as a subprocess on free ports, and read its /metrics.

For tests here and in other packages (deploy, perf) that need live ACGS services:

    sim = SimProcess(free_base_port(), "--seed", "7")
    sim.start()            # waits until every service answers /health
    try:
        ...                # sim.url("gs"), sim.port("gs")
    finally:
        sim.terminate()    # SIGTERM; returns the exit code
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from acgs_metrics import SERVICE_NAMES

__all__ = ["ACGS_SIM", "Sample", "SimProcess", "free_base_port", "parse_metrics", "ports_free"]

ACGS_SIM = Path(sys.executable).with_name("acgs-sim")
# Ports the guide's stack uses: never pick them, whatever a test runs beside.
RESERVED = set(range(8000, 8007)) | {3000, 9090, 9093, 9100}


def ports_free(ports: Iterable[int], host: str = "127.0.0.1") -> bool:
    """True when a server could listen on every port (no listener; TIME_WAIT is fine)."""
    for port in ports:
        with socket.socket() as sock:
            # Like the servers themselves: a closed server's TIME_WAIT sockets do not count.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def free_base_port() -> int:
    """A base port whose seven service ports are all free right now."""
    for _ in range(200):
        base = random.randrange(20000, 60000)  # noqa: S311 (not security)
        ports = range(base, base + len(SERVICE_NAMES))
        if not RESERVED & set(ports) and ports_free(ports):
            return base
    raise RuntimeError("no seven consecutive free ports found")


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
    ) -> None:
        self.base_port = base_port
        self.services = list(services)
        self.scheme = scheme
        self.args = [
            str(ACGS_SIM),
            "--base-port",
            str(base_port),
            "--services",
            ",".join(services),
            *args,
        ]
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None

    def port(self, service: str) -> int:
        return self.base_port + SERVICE_NAMES.index(service)

    def url(self, service: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port(service)}"

    def start(self, client: httpx.Client | None = None, timeout: float = 20.0) -> None:
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        client = client or httpx.Client(timeout=2.0, verify=False)  # noqa: S501 (health probe)
        deadline = time.monotonic() + timeout
        waiting = set(self.services)
        while waiting:
            if self.process.poll() is not None:
                out, err = self.process.communicate()
                raise RuntimeError(f"acgs-sim exited {self.process.returncode}: {err}{out}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"acgs-sim services {sorted(waiting)} did not answer /health")
            for service in list(waiting):
                try:
                    if client.get(f"{self.url(service)}/health").status_code == 200:
                        waiting.discard(service)
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; SIGKILL only if it does not stop in time."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode

    def output(self) -> tuple[str, str]:
        assert self.process is not None
        return self.process.communicate()
