"""One simulated ACGS service as a WSGI app: its API, /metrics, /health and the fault control.

Every request except the fault control goes through the ``unresponsive`` gate first, then the
HTTP RED middleware, then the router. Each service has its own registry, so its /metrics
shows only its own series.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from random import Random
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from acgs_metrics import Instruments
from acgs_metrics.exposition import make_wsgi_app
from acgs_metrics.middleware import HttpMetrics, RouteTemplates, WSGIMetricsMiddleware
from acgs_sim.backends import Backends
from acgs_sim.behaviour import Behaviour, Route, behaviour_for
from acgs_sim.faults import FaultBoard, FaultName, FaultRequestError, parse_fault_request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
else:
    StartResponse = WSGIEnvironment = Any

__all__ = ["CONTROL_PATH", "SimService"]

log = logging.getLogger("acgs_sim")

CONTROL_PATH = "/control/faults"
MAX_BODY = 64 * 1024
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
# The 5xx answers an `error_rate` fault gives, and how often each.
_INJECTED_ERRORS = {500: 0.6, 503: 0.3, 502: 0.1}

Response = tuple[int, list[tuple[str, str]], bytes]


class SimService:
    """One demo service: registry, metrics, faults, and the WSGI app that serves them."""

    def __init__(
        self, name: str, *, seed: int | None = None, backends: Backends | None = None
    ) -> None:
        self.name = name
        self.backends = backends or Backends()
        self.registry = CollectorRegistry()
        self.instruments = Instruments(registry=self.registry)
        self.faults = FaultBoard()
        self.rng = Random(seed)  # noqa: S311 (simulated data, not security)
        self.behaviour: Behaviour = behaviour_for(name)(
            self.instruments, self.faults, self.rng, self.backends
        )
        self.api_routes: dict[tuple[str, str], Route] = {
            (route.method, route.template): route for route in self.behaviour.routes
        }
        templates = ["/metrics", "/health", CONTROL_PATH, f"{CONTROL_PATH}/{{fault}}"]
        templates += [route.template for route in self.behaviour.routes]
        self.router = RouteTemplates(templates)
        self.http = HttpMetrics(name, self.router, self.instruments)
        self._metrics_app = make_wsgi_app(self.registry)
        self._instrumented = WSGIMetricsMiddleware(self._route, self.http)
        self._closing = False

    @property
    def supported_faults(self) -> list[str]:
        return [fault.value for fault in FaultName if self.behaviour.supports(fault)]

    def tick(self) -> None:
        self.behaviour.tick()

    def close(self) -> None:
        """Let go of every request an ``unresponsive`` fault is holding."""
        self._closing = True
        self.faults.release_waiters()

    # --- WSGI ----------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        held = None if path.startswith(CONTROL_PATH) else self.faults.get(FaultName.UNRESPONSIVE)
        # Hang like a wedged process: the scraper times out and records up == 0.
        if (
            held is not None
            and not self._closing
            and not self.faults.wait_while_active(FaultName.UNRESPONSIVE, held.value)
        ):
            return _send(start_response, _json(503, {"error": "unresponsive"}))
        return self._instrumented(environ, start_response)

    def _route(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.router(environ.get("PATH_INFO") or "/") == "/metrics":
            # The library's metrics app: content negotiation, gzip, HEAD, name[] filters.
            return self._metrics_app(environ, start_response)
        return _send(start_response, self.respond(environ))

    def respond(self, environ: WSGIEnvironment) -> Response:
        """The response to a request other than /metrics (API handlers sleep their latency)."""
        path = environ.get("PATH_INFO") or "/"
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        template = self.router(path)
        if template == "/health":
            if method not in ("GET", "HEAD"):
                return _method_not_allowed("GET")
            # Still 200 with a backend down: the service answers, degraded (a load
            # balancer that dropped every backend over a cache outage would make it worse).
            state = "degraded" if self.backends.degraded else "ok"
            summary = {"status": state, "service": self.name, **self._fault_summary()}
            return _json(200, {**summary, "backends": self.backends.health()})
        if template == CONTROL_PATH:
            return self._control(method, environ)
        if template == f"{CONTROL_PATH}/{{fault}}":
            return self._control_one(method, path.rsplit("/", 1)[-1])
        route = self.api_routes.get((method, template))
        if route is None:
            allowed = [m for (m, t) in self.api_routes if t == template]
            if allowed:
                return _method_not_allowed(", ".join(allowed))
            return _json(404, {"error": f"no route {path}", "service": self.name})
        error_rate = self.faults.get(FaultName.ERROR_RATE)
        if error_rate is not None and self.rng.random() < error_rate.value:
            status = self.rng.choices(list(_INJECTED_ERRORS), list(_INJECTED_ERRORS.values()))[0]
            return _json(status, {"error": "injected fault: error_rate"})
        slow = self.faults.get(FaultName.SLOW_BACKEND)
        time.sleep(self.behaviour.latency(route) + (slow.value if slow else 0.0))
        status, body = self.behaviour.handle(route)
        return _json(status, body)

    # --- fault control ---------------------------------------------------------------

    def _fault_summary(self) -> dict[str, Any]:
        return {
            "active_faults": [fault.name.value for fault in self.faults.active()],
            "supported_faults": self.supported_faults,
        }

    def _control(self, method: str, environ: WSGIEnvironment) -> Response:
        if method == "GET":
            return _json(200, [fault.to_json() for fault in self.faults.active()])
        if method == "DELETE":
            cleared = self.faults.clear()
            log.info("%s: cleared %d fault(s)", self.name, cleared)
            return _json(200, {"cleared": cleared})
        if method != "POST":
            return _method_not_allowed("GET, POST, DELETE")
        try:
            body = _read_json(environ)
            name, value, duration = parse_fault_request(body)
        except FaultRequestError as error:
            return _json(400, {"error": str(error)})
        if not self.behaviour.supports(name):
            return _json(
                409,
                {
                    "error": f"{self.name} does not emit what {name.value} changes; "
                    f"faults for {self.name}: {', '.join(self.supported_faults)}"
                },
            )
        fault = self.faults.inject(name, value, duration)
        log.warning(
            "%s: fault %s injected (value %g, %s)",
            self.name,
            name.value,
            value,
            f"{duration:g} s" if duration else "until cleared",
        )
        return _json(201, fault.to_json())

    def _control_one(self, method: str, raw_name: str) -> Response:
        if method != "DELETE":
            return _method_not_allowed("DELETE")
        try:
            name = FaultName(raw_name)
        except ValueError:
            known = ", ".join(f.value for f in FaultName)
            return _json(404, {"error": f"{raw_name!r} is not a fault; known: {known}"})
        return _json(200, {"cleared": self.faults.clear(name)})


def _read_json(environ: WSGIEnvironment) -> object:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise FaultRequestError("Content-Length is not a number") from None
    if length > MAX_BODY:
        raise FaultRequestError(f"request body over {MAX_BODY} bytes")
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        return json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FaultRequestError(f"request body is not JSON: {error}") from None


def _json(status: int, body: object) -> Response:
    data = b"" if status == 204 else json.dumps(body).encode()
    return status, [("Content-Type", "application/json")], data


def _method_not_allowed(allowed: str) -> Response:
    status, headers, body = _json(405, {"error": f"method not allowed; use {allowed}"})
    return status, [*headers, ("Allow", allowed)], body


def _send(start_response: StartResponse, response: Response) -> list[bytes]:
    status, headers, body = response
    start_response(f"{status} {_REASONS.get(status, '')}".strip(), headers)
    return [body]
