"""HTTP RED metrics (rate, errors, duration) for WSGI and ASGI apps.

    from acgs_metrics.middleware import HttpMetrics, WSGIMetricsMiddleware

    http = HttpMetrics("gs", routes=["/policies", "/policies/{policy_id}"])
    app = WSGIMetricsMiddleware(app, http)

Each request is counted in ``acgs_http_requests_total{service,endpoint,method,status_code}``,
timed in ``acgs_http_request_duration_seconds{service,endpoint,method}`` and tracked in
``acgs_http_requests_in_flight{service}``, all through
:class:`~acgs_metrics.instruments.Instruments` (cached children, the cardinality guard).

``endpoint`` is always a route template, never the raw path: raw paths carry ids and would
make one series per id. Paths no template matches are recorded as ``/other``. An exception
from the app counts as a 500 and is re-raised. Templates are relative to where the app is
mounted (WSGI ``PATH_INFO``; ASGI ``path`` without ``root_path``). A request is timed until
its response body is finished (WSGI: the server closes the body iterable; ASGI: the app
returns).

A metrics failure must never fail a request: a label value the catalog does not allow (an
exotic HTTP method, a path from a ``route_for`` that is not UTF-8, say) folds in production
mode (that label becomes ``_overflow``, ``service`` and the others stay), and in strict mode
the request's metrics are logged once and skipped.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from acgs_metrics.instruments import Instruments, LabelValueError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
else:
    StartResponse = WSGIApplication = WSGIEnvironment = Any

__all__ = [
    "OTHER_ENDPOINT",
    "ASGIMetricsMiddleware",
    "HttpMetrics",
    "RouteTemplates",
    "WSGIMetricsMiddleware",
]

log = logging.getLogger("acgs_metrics")

OTHER_ENDPOINT = "/other"

REQUESTS = "acgs_http_requests_total"
DURATION = "acgs_http_request_duration_seconds"
IN_FLIGHT = "acgs_http_requests_in_flight"

RouteFor = Callable[[str], "str | None"]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]

# `{name}` matches one path segment, `{name:path}` the rest of the path.
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")


class RouteTemplates:
    """Map raw paths to route templates such as ``/policies/{policy_id}``.

    Templates without parameters match exactly; the others are tried in the order given.
    A path no template matches maps to ``other``.
    """

    def __init__(self, templates: Iterable[str], other: str = OTHER_ENDPOINT) -> None:
        self.other = other
        self._exact: dict[str, str] = {}
        self._templated: list[str] = []
        branches: list[str] = []
        for template in templates:
            if not template.startswith("/"):
                raise ValueError(f"route template {template!r} must start with '/'")
            if _PARAM.search(template) is None:
                self._exact.setdefault(template, template)
                continue
            regex, pos = [], 0
            for match in _PARAM.finditer(template):
                regex.append(re.escape(template[pos : match.start()]))
                regex.append(".+" if match.group(2) else "[^/]+")
                pos = match.end()
            regex.append(re.escape(template[pos:]))
            branches.append(f"(?P<t{len(self._templated)}>{''.join(regex)})")
            self._templated.append(template)
        # One alternation, so a lookup is one regex match in C, not one per template; the
        # first template that matches wins, as the order given says.
        self._pattern = re.compile("|".join(branches)) if branches else None

    def __call__(self, path: str) -> str:
        template = self._exact.get(path)
        if template is not None:
            return template
        if self._pattern is not None:
            match = self._pattern.fullmatch(path)
            if match is not None and match.lastgroup is not None:
                return self._templated[int(match.lastgroup[1:])]
        return self.other

    @property
    def templates(self) -> list[str]:
        return [*self._exact, *self._templated]


class HttpMetrics:
    """The RED instruments of one service, shared by its WSGI or ASGI middleware.

    ``routes`` is either a list of route templates or a callable ``route_for(path)`` that
    returns the template (``None`` for an unknown path, which is recorded as ``other``).
    """

    def __init__(
        self,
        service: str,
        routes: Iterable[str] | RouteFor,
        instruments: Instruments | None = None,
        *,
        other: str = OTHER_ENDPOINT,
    ) -> None:
        if isinstance(routes, str):
            raise TypeError("routes: give a list of route templates or a route_for(path) callable")
        instruments = instruments or Instruments()
        self.service = service
        self.other = other
        self._route_for: RouteFor = (
            routes if callable(routes) else RouteTemplates(routes, other=other)
        )
        self._requests = instruments.counter(REQUESTS)
        self._duration = instruments.histogram(DURATION)
        self._in_flight = instruments.gauge(IN_FLIGHT).labels(service)
        self._warned = False

    def endpoint(self, path: str) -> str:
        """The route template of ``path``, or ``other``."""
        return self._route_for(path) or self.other

    def started(self) -> float:
        """Count a request in flight; returns its start time for :meth:`finished`."""
        self._in_flight.inc()
        return time.perf_counter()

    def finished(self, started: float, endpoint: str, method: str, status: int) -> None:
        seconds = time.perf_counter() - started
        self._in_flight.dec()
        try:
            self._requests.labels(self.service, endpoint, method, str(status)).inc()
            self._duration.labels(self.service, endpoint, method).observe(seconds)
        except LabelValueError as error:  # strict mode only
            if not self._warned:
                self._warned = True
                log.warning("HTTP request not recorded: %s", error)


class WSGIMetricsMiddleware:
    """Wrap a WSGI app so every request is recorded in :class:`HttpMetrics`."""

    def __init__(self, app: WSGIApplication, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        endpoint = self.metrics.endpoint(environ.get("PATH_INFO") or "/")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        request = _WSGIRequest(self.metrics, endpoint, method)

        def capture(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            request.status = _status_code(status)
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, capture)
        except BaseException:
            request.finish(failed=True)
            raise
        return _RecordingBody(body, request)


class _WSGIRequest:
    def __init__(self, metrics: HttpMetrics, endpoint: str, method: str) -> None:
        self.metrics = metrics
        self.endpoint = endpoint
        self.method = method
        self.status = 500
        self.started = metrics.started()
        self.done = False

    def finish(self, *, failed: bool = False) -> None:
        if self.done:
            return
        self.done = True
        self.metrics.finished(
            self.started, self.endpoint, self.method, 500 if failed else self.status
        )


class _RecordingBody:
    """The app's body, recorded once it is closed (or fails while being read)."""

    def __init__(self, body: Iterable[bytes], request: _WSGIRequest) -> None:
        self._body = body
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except BaseException:
            self._request.finish(failed=True)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._request.finish()


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ASGIMetricsMiddleware:
    """Wrap an ASGI app; ``http`` requests are recorded, lifespan and websocket pass through."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = self.metrics.endpoint(_app_path(scope))
        method = str(scope.get("method", "GET")).upper()
        status = 500  # a request that ends before its response starts is a failure

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        started = self.metrics.started()
        try:
            await self.app(scope, receive, capture)
        except BaseException:
            status = 500
            raise
        finally:
            self.metrics.finished(started, endpoint, method, status)


def _app_path(scope: Scope) -> str:
    """The path inside the app: templates are relative to where the app is mounted."""
    path: str = scope.get("path") or "/"
    root: str = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


def _status_code(status: str) -> int:
    try:
        return int(status[:3])
    except ValueError:
        return 500
