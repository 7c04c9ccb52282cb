"""Background API traffic: calls each service's routes at their rates.

By default requests are handed straight to the service's WSGI app (the same app the HTTP
server serves, RED middleware included), not sent over a socket: the metrics are the same
and the simulator stays light beside Prometheus. With a :class:`Via` (``--via URL``) they go
over HTTP through that front instead, as ``URL/<service><path>`` (a load balancer such as
HAProxy strips the ``/<service>`` prefix and picks the service's backend), so the front's
counters and the services' agree. Handlers sleep their simulated latency on a worker pool,
so durations and in-flight counts are real measurements.
"""

from __future__ import annotations

import io
import logging
import math
import ssl
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from random import Random
from typing import Any

import httpx

from acgs_sim.behaviour import Route
from acgs_sim.faults import FaultName
from acgs_sim.service import SimService

__all__ = ["TrafficGenerator", "Via"]

log = logging.getLogger("acgs_sim")

STEP_S = 0.25
# Enough for a slow_backend or slow_synthesis fault to hold a few seconds of requests.
WORKERS = 64
# Longer than any request the services hold (slow faults top out at 60 s): the front
# decides when to give up, as it would for real clients.
VIA_TIMEOUT_S = 65.0
# Requests queued beyond this are dropped: a slow machine gets less traffic, not a backlog.
MAX_PENDING = 200


@dataclass(frozen=True)
class Via:
    """Send the traffic over HTTP through this front: ``url`` + ``/<service><path>``."""

    url: str
    verify: ssl.SSLContext | bool = True


class TrafficGenerator:
    """Calls every service's API routes at ``route.rate * scale`` requests per second."""

    def __init__(
        self,
        services: Sequence[SimService],
        *,
        scale: float = 1.0,
        seed: int | None = None,
        via: Via | None = None,
    ) -> None:
        self.services = services
        self.scale = scale
        self.via = via
        self._client = None
        if via is not None:
            self._client = httpx.Client(
                base_url=via.url.rstrip("/"),
                verify=via.verify,
                timeout=httpx.Timeout(VIA_TIMEOUT_S, connect=2.0),
                limits=httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS),
            )
        self.via_errors = 0
        self.rng = Random(seed)  # noqa: S311 (simulated traffic, not security)
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="acgs-sim-traffic")
        self._slots = threading.BoundedSemaphore(MAX_PENDING)
        self._thread = threading.Thread(target=self._run, name="acgs-sim-traffic", daemon=True)
        self.sent = 0
        self.dropped = 0

    def start(self) -> None:
        if self.scale > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._client is not None:
            self._client.close()  # wakes workers blocked on the front
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.wait(STEP_S):
            for service in self.services:
                if service.faults.get(FaultName.UNRESPONSIVE) is not None:
                    continue  # nobody gets through to a wedged service
                for route in service.behaviour.routes:
                    for _ in range(self._poisson(route.rate * self.scale * STEP_S)):
                        self._submit(service, route)

    def _submit(self, service: SimService, route: Route) -> None:
        if not self._slots.acquire(blocking=False):
            self.dropped += 1
            return
        self.sent += 1
        call = self._call if self._client is None else self._call_via
        future = self._pool.submit(call, service, route, service.behaviour.example_path(route))
        future.add_done_callback(lambda _: self._slots.release())

    @staticmethod
    def _call(service: SimService, route: Route, path: str) -> None:
        body = b"{}" if route.method in ("POST", "PUT", "PATCH") else b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": route.method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "acgs-sim",
            "SERVER_PORT": "0",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_ACCEPT": "application/json",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        try:
            result = service(environ, lambda status, headers, exc_info=None: lambda data: None)
            try:
                for _ in result:
                    pass
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            log.exception("%s: simulated request %s %s failed", service.name, route.method, path)

    def _call_via(self, service: SimService, route: Route, path: str) -> None:
        assert self._client is not None
        body = b"{}" if route.method in ("POST", "PUT", "PATCH") else None
        try:
            self._client.request(
                route.method,
                f"/{service.name}{path}",
                content=body,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
        except (httpx.HTTPError, RuntimeError) as error:  # RuntimeError: client closed
            if self._stop.is_set():
                return
            self.via_errors += 1
            # The first failure and then one in a hundred: a front that is down is loud enough.
            if self.via_errors % 100 == 1:
                log.warning(
                    "traffic through %s failed (%d so far): %s",
                    self.via.url if self.via else "",
                    self.via_errors,
                    error,
                )

    def _poisson(self, mean: float) -> int:
        # Knuth's method: fine for the small means here (a few requests per step).
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count
