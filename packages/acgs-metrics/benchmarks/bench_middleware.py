"""What the RED middleware adds to each request, for WSGI and ASGI apps.

Calls a trivial app directly, bare and wrapped, many times (no sockets, so the figure is the
middleware's own cost: route lookup, in-flight gauge, counter, histogram). Prints the median
microseconds per request over several rounds and the added cost. Run: ``python
packages/acgs-metrics/benchmarks/bench_middleware.py`` (or ``nox -s bench -- bench_middleware``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from acgs_metrics import Instruments
from acgs_metrics.middleware import ASGIMetricsMiddleware, HttpMetrics, WSGIMetricsMiddleware

ROUNDS = 7
ROUTES = [f"/api/v1/resource{i}/{{item_id}}" for i in range(20)] + ["/health", "/metrics"]
PATH = "/api/v1/resource19/12345"  # the last template tried: the worst case for the lookup
ENVIRON: dict[str, Any] = {"PATH_INFO": PATH, "REQUEST_METHOD": "GET"}


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def wsgi_round(app: Callable[..., Iterable[bytes]], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        body = app(ENVIRON, start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return (time.perf_counter() - started) / calls * 1e6


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def asgi_round(app: Callable[..., Any], calls: int) -> float:
    scope = {"type": "http", "path": PATH, "method": "GET"}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await app(scope, receive, send)
        return (time.perf_counter() - started) / calls * 1e6

    return asyncio.run(run())


def median_of(kind: str, make_round: Callable[[], float], progress: Progress) -> float:
    task = progress.add_task(kind, total=ROUNDS)
    times = []
    for _ in range(ROUNDS):
        times.append(make_round())
        progress.advance(task)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per round")
    calls = parser.parse_args().calls
    metrics = HttpMetrics("gs", ROUTES, Instruments(registry=CollectorRegistry()))
    wrapped_wsgi = WSGIMetricsMiddleware(wsgi_app, metrics)
    wrapped_asgi = ASGIMetricsMiddleware(asgi_app, metrics)
    console = Console()
    with Progress(console=console, transient=True) as progress:
        rows = [
            (
                "WSGI",
                median_of("WSGI bare", lambda: wsgi_round(wsgi_app, calls), progress),
                median_of("WSGI wrapped", lambda: wsgi_round(wrapped_wsgi, calls), progress),
            ),
            (
                "ASGI",
                median_of("ASGI bare", lambda: asgi_round(asgi_app, calls), progress),
                median_of("ASGI wrapped", lambda: asgi_round(wrapped_asgi, calls), progress),
            ),
        ]
    table = Table(
        title=f"RED middleware cost per request (median of {ROUNDS} x {calls} calls, "
        f"{len(ROUTES)} route templates)"
    )
    for column in ("app", "bare µs", "with middleware µs", "added µs"):
        table.add_column(column, justify="left" if column == "app" else "right")
    for kind, bare, wrapped in rows:
        table.add_row(kind, f"{bare:.2f}", f"{wrapped:.2f}", f"{wrapped - bare:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
