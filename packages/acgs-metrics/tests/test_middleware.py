"""RED middleware, through real servers.

WSGI apps are served by ``acgs_metrics.exposition.serve_wsgi`` and ASGI apps by uvicorn, both
on free loopback ports, and called with httpx. The websocket pass-through is checked by
driving the ASGI callable directly (uvicorn would need a websocket library for it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry

from acgs_metrics import Instruments
from acgs_metrics.exposition import serve_wsgi
from acgs_metrics.middleware import (
    OTHER_ENDPOINT,
    ASGIMetricsMiddleware,
    HttpMetrics,
    RouteTemplates,
    WSGIMetricsMiddleware,
)
from acgs_testkit.waiting import poll, wait_for

ROUTES = ["/health", "/items/{item_id}", "/files/{rest:path}", "/boom", "/slow", "/held"]
# Requests to /held wait for this, so a test can look at them while they are in flight.
RELEASE = threading.Event()


def requests(registry: CollectorRegistry, endpoint: str, method: str, status: int) -> float:
    value = registry.get_sample_value(
        "acgs_http_requests_total",
        {"service": "gs", "endpoint": endpoint, "method": method, "status_code": str(status)},
    )
    return value or 0.0


def duration_count(registry: CollectorRegistry, endpoint: str, method: str) -> float:
    value = registry.get_sample_value(
        "acgs_http_request_duration_seconds_count",
        {"service": "gs", "endpoint": endpoint, "method": method},
    )
    return value or 0.0


def in_flight(registry: CollectorRegistry) -> float:
    value = registry.get_sample_value("acgs_http_requests_in_flight", {"service": "gs"})
    return value or 0.0


def series_endpoints(registry: CollectorRegistry) -> set[str]:
    return {
        sample.labels["endpoint"]
        for metric in registry.collect()
        if metric.name == "acgs_http_requests"
        for sample in metric.samples
        if sample.name == "acgs_http_requests_total"
    }


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def http_metrics(registry: CollectorRegistry) -> HttpMetrics:
    return HttpMetrics("gs", ROUTES, Instruments(registry=registry, strict=True))


# --- route templates -----------------------------------------------------------------


def test_route_templates_map_raw_paths_to_templates() -> None:
    routes = RouteTemplates(ROUTES)
    assert routes("/health") == "/health"
    assert routes("/items/42") == "/items/{item_id}"
    assert routes("/items/42/extra") == OTHER_ENDPOINT
    assert routes("/files/a/b/c.txt") == "/files/{rest:path}"
    assert routes("/nope") == OTHER_ENDPOINT
    assert RouteTemplates([], other="/unmatched")("/x") == "/unmatched"


def test_first_matching_template_wins() -> None:
    routes = RouteTemplates(["/a/{x}/c", "/a/{rest:path}", "/a/{x}/d"])
    assert routes("/a/1/c") == "/a/{x}/c"
    assert routes("/a/1/d") == "/a/{rest:path}"
    assert routes.templates == ["/a/{x}/c", "/a/{rest:path}", "/a/{x}/d"]


def test_route_template_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        RouteTemplates(["items"])


def test_route_callable_none_means_other(registry: CollectorRegistry) -> None:
    metrics = HttpMetrics(
        "gs", lambda path: "/known" if path == "/k" else None, Instruments(registry=registry)
    )
    assert metrics.endpoint("/k") == "/known"
    assert metrics.endpoint("/unknown/123") == OTHER_ENDPOINT


# --- WSGI through serve_wsgi ---------------------------------------------------------


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/held":
        RELEASE.wait(timeout=10)
    if path.startswith("/items/") or path in ("/health", "/held"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    if path.startswith("/files/"):
        return streamed_body(start_response)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


def streamed_body(start_response: Any) -> Iterator[bytes]:
    start_response("201 Created", [("Content-Type", "text/plain")])
    yield b"part one, "
    yield b"part two"


@pytest.fixture
def wsgi_url(http_metrics: HttpMetrics) -> Iterator[str]:
    handle = serve_wsgi(WSGIMetricsMiddleware(wsgi_app, http_metrics), "127.0.0.1", 0)
    try:
        yield handle.url.rstrip("/")
    finally:
        handle.shutdown()


def test_wsgi_counts_requests_by_template(wsgi_url: str, registry: CollectorRegistry) -> None:
    with httpx.Client(base_url=wsgi_url) as client:
        for item in range(5):
            assert client.get(f"/items/{item}").status_code == 200
        assert client.post("/items/9").status_code == 200
        assert client.get("/files/a/b.txt").text == "part one, part two"
        assert client.get("/unknown/path/1").status_code == 404
    assert requests(registry, "/items/{item_id}", "GET", 200) == 5
    assert requests(registry, "/items/{item_id}", "POST", 200) == 1
    assert requests(registry, "/files/{rest:path}", "GET", 201) == 1
    assert requests(registry, OTHER_ENDPOINT, "GET", 404) == 1
    assert duration_count(registry, "/items/{item_id}", "GET") == 5
    # No raw path ever becomes a label value.
    assert series_endpoints(registry) == {"/items/{item_id}", "/files/{rest:path}", "/other"}
    assert in_flight(registry) == 0


def test_wsgi_exception_counts_as_500(wsgi_url: str, registry: CollectorRegistry) -> None:
    with httpx.Client(base_url=wsgi_url) as client:
        assert client.get("/boom").status_code == 500
    assert requests(registry, "/boom", "GET", 500) == 1
    assert in_flight(registry) == 0


def test_wsgi_duration_and_in_flight(wsgi_url: str, registry: CollectorRegistry) -> None:
    RELEASE.clear()

    def call() -> None:
        with httpx.Client(base_url=wsgi_url, timeout=10) as client:
            client.get("/held")

    threads = [threading.Thread(target=call) for _ in range(3)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        poll(lambda: in_flight(registry), lambda held: held >= 3, timeout_s=10, every_s=0.01)
        assert in_flight(registry) == 3
        time.sleep(0.2)
    finally:
        RELEASE.set()
        for thread in threads:
            thread.join()
    elapsed = time.perf_counter() - started
    assert in_flight(registry) == 0
    assert requests(registry, "/held", "GET", 200) == 3
    total = registry.get_sample_value(
        "acgs_http_request_duration_seconds_sum",
        {"service": "gs", "endpoint": "/held", "method": "GET"},
    )
    assert total is not None
    # Each request was held at least 0.2 s and at most the whole test.
    assert 3 * 0.2 <= total <= 3 * elapsed


# --- ASGI through uvicorn ------------------------------------------------------------


class ASGIApp:
    def __init__(self) -> None:
        self.lifespan_events: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.lifespan_events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        path = scope["path"]
        if path == "/boom":
            raise RuntimeError("boom")
        if path == "/slow":
            await asyncio.sleep(0.2)
        status = 200 if path.startswith("/items/") or path in ("/health", "/slow") else 404
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _started(server: uvicorn.Server, thread: threading.Thread) -> bool:
    if not thread.is_alive():
        raise RuntimeError("uvicorn exited at start")
    return server.started


class UvicornServer:
    """uvicorn in a thread on a free port."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_for(lambda: _started(self.server, self.thread), 10, "uvicorn", every_s=0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_asgi_under_uvicorn(http_metrics: HttpMetrics, registry: CollectorRegistry) -> None:
    app = ASGIApp()
    with (
        UvicornServer(ASGIMetricsMiddleware(app, http_metrics)) as url,
        httpx.Client(base_url=url) as client,
    ):
        for item in range(4):
            assert client.get(f"/items/{item}").status_code == 200
        assert client.delete("/items/1").status_code == 200
        assert client.get("/boom").status_code == 500
        assert client.get("/no/such/route").status_code == 404
        assert client.get("/slow").status_code == 200
    assert app.lifespan_events == ["lifespan.startup", "lifespan.shutdown"]
    assert requests(registry, "/items/{item_id}", "GET", 200) == 4
    assert requests(registry, "/items/{item_id}", "DELETE", 200) == 1
    assert requests(registry, "/boom", "GET", 500) == 1
    assert requests(registry, OTHER_ENDPOINT, "GET", 404) == 1
    slow = registry.get_sample_value(
        "acgs_http_request_duration_seconds_sum",
        {"service": "gs", "endpoint": "/slow", "method": "GET"},
    )
    assert slow is not None
    assert slow >= 0.2
    assert in_flight(registry) == 0
    assert series_endpoints(registry) == {"/items/{item_id}", "/boom", "/other", "/slow"}


def test_asgi_websocket_passes_through(
    http_metrics: HttpMetrics, registry: CollectorRegistry
) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    app = ASGIMetricsMiddleware(ASGIApp(), http_metrics)
    asyncio.run(app({"type": "websocket", "path": "/items/1"}, receive, send))
    assert sent == [{"type": "websocket.accept"}]
    assert series_endpoints(registry) == set()
    assert in_flight(registry) == 0


def test_asgi_templates_are_relative_to_the_mount_point(
    http_metrics: HttpMetrics, registry: CollectorRegistry
) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        return None

    async def mounted(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = ASGIMetricsMiddleware(mounted, http_metrics)
    scope = {"type": "http", "method": "GET", "path": "/gs/items/7", "root_path": "/gs"}
    asyncio.run(app(scope, receive, send))
    assert requests(registry, "/items/{item_id}", "GET", 200) == 1


def test_routes_must_not_be_a_string(registry: CollectorRegistry) -> None:
    with pytest.raises(TypeError, match="list of route templates"):
        HttpMetrics("gs", "/items/{item_id}", Instruments(registry=registry))


def test_strict_mode_never_fails_a_request(registry: CollectorRegistry) -> None:
    """A method the catalog does not list is skipped (strict) instead of failing the request."""
    metrics = HttpMetrics("gs", ROUTES, Instruments(registry=registry, strict=True))
    app = WSGIMetricsMiddleware(wsgi_app, metrics)
    statuses: list[str] = []
    body = app(
        {"PATH_INFO": "/items/1", "REQUEST_METHOD": "PROPFIND"},
        lambda status, headers, exc_info=None: statuses.append(status),  # type: ignore[arg-type]
    )
    assert b"".join(body) == b"ok"
    body.close()  # type: ignore[attr-defined]
    assert statuses == ["200 OK"]
    assert series_endpoints(registry) == set()
    assert in_flight(registry) == 0


def test_production_mode_folds_unknown_method(registry: CollectorRegistry) -> None:
    metrics = HttpMetrics("gs", ROUTES, Instruments(registry=registry, strict=False))
    app = WSGIMetricsMiddleware(wsgi_app, metrics)
    body = app(
        {"PATH_INFO": "/items/1", "REQUEST_METHOD": "PROPFIND"},
        lambda status, headers, exc_info=None: None,  # type: ignore[arg-type]
    )
    list(body)
    body.close()  # type: ignore[attr-defined]
    overflow = registry.get_sample_value(
        "acgs_metrics_cardinality_overflow_total", {"metric": "acgs_http_requests_total"}
    )
    assert overflow == 1
