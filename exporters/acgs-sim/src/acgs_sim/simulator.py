"""The simulator: the chosen services served over HTTP(S), their gauges ticking, traffic flowing.

    sim = Simulator(["gs", "pgc"], base_port=18000)
    sim.start()          # gs on 18004, pgc on 18005
    ...
    sim.stop()

Service ``i`` of the guide's list (auth 0, ac 1, integrity 2, fv 3, gs 4, pgc 5, ec 6)
listens on ``base_port + i``, whichever services are chosen. With ``replicas=N`` each service
runs N instances (a fleet): instance ``r`` on ``base_port + r * 7 + i``
(:func:`acgs_metrics.services.instance_port`), each with its own registry and faults; the
background traffic of a service is shared among its instances, so the fleet serves the same
load as one instance would.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from acgs_metrics import SERVICE_NAMES
from acgs_metrics.exposition import BasicAuth, ServerHandle, TLSConfig, serve_wsgi
from acgs_metrics.services import instance_port
from acgs_sim.backends import Backends
from acgs_sim.service import SimService
from acgs_sim.traffic import TrafficGenerator, Via

__all__ = ["SimError", "Simulator", "service_port"]

log = logging.getLogger("acgs_sim")

DEFAULT_BASE_PORT = 8000
TICK_S = 1.0


class SimError(RuntimeError):
    """The simulator cannot start; the message says why and what to do."""


def service_port(service: str, base_port: int, replica: int = 0) -> int:
    return instance_port(service, base_port, replica)


class Simulator:
    def __init__(
        self,
        services: Sequence[str] = SERVICE_NAMES,
        *,
        host: str = "127.0.0.1",
        base_port: int = DEFAULT_BASE_PORT,
        tls: TLSConfig | None = None,
        basic_auth: BasicAuth | None = None,
        tick_s: float = TICK_S,
        traffic_scale: float = 1.0,
        seed: int | None = None,
        backends: Backends | None = None,
        via: Via | None = None,
        replicas: int = 1,
    ) -> None:
        unknown = [name for name in services if name not in SERVICE_NAMES]
        if unknown:
            raise SimError(
                f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICE_NAMES)}"
            )
        if not services:
            raise SimError(f"no services chosen; choose from {', '.join(SERVICE_NAMES)}")
        if replicas < 1:
            raise SimError(f"replicas must be 1 or more, got {replicas}")
        width = replicas * len(SERVICE_NAMES)
        if not base_port > 0 or base_port + width - 1 > 65535:
            raise SimError(
                f"base port {base_port} is out of range: {replicas} replica(s) of the seven "
                f"services take {width} ports from it, so it must lie in 1..{65536 - width}"
            )
        self.host = host
        self.base_port = base_port
        self.tls = tls
        self.basic_auth = basic_auth
        self.tick_s = tick_s
        self.backends = backends or Backends()
        self.replicas = replicas
        # Guide order, so logs and listings read the same whatever order was asked for;
        # instance 0 of every service first, then instance 1, ...
        ordered = [name for name in SERVICE_NAMES if name in services]
        self.services = [
            SimService(name, seed=None if seed is None else seed + index, backends=self.backends)
            for index, name in enumerate(ordered * replicas)
        ]
        self.ports = [
            service_port(name, base_port, replica)
            for replica in range(replicas)
            for name in ordered
        ]
        # Each instance gets its share of its service's traffic.
        self.traffic = TrafficGenerator(
            self.services, scale=traffic_scale / replicas, seed=seed, via=via
        )
        self.servers: dict[int, ServerHandle] = {}
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="acgs-sim-tick", daemon=True)

    def start(self) -> None:
        """Bind every service's port (all or none), then start ticking and traffic."""
        try:
            for service, port in zip(self.services, self.ports, strict=True):
                self.servers[port] = serve_wsgi(
                    service, self.host, port, tls=self.tls, basic_auth=self.basic_auth
                )
        except (OSError, ValueError) as error:
            self.stop()
            raise SimError(
                f"{error}; choose another --base-port or stop what holds the port"
                if isinstance(error, OSError)
                else str(error)
            ) from None
        self._ticker.start()
        self.traffic.start()

    def url(self, service: str, replica: int = 0) -> str:
        """Where instance ``replica`` of ``service`` is served (after :meth:`start`)."""
        return self.servers[service_port(service, self.base_port, replica)].url

    def stop(self) -> None:
        """Stop traffic and ticks, release held requests, close every port."""
        self._stop.set()
        for service in self.services:
            service.close()
        self.traffic.stop()
        if self._ticker.is_alive():
            self._ticker.join(timeout=5)
        for server in self.servers.values():
            server.shutdown()
        self.backends.close()

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            for service in self.services:
                try:
                    service.tick()
                except Exception:
                    log.exception("%s: tick failed", service.name)
