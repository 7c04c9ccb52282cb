"""Scrape latency of a 10,000-series service, as a real Prometheus measures it.

    uv run python packages/acgs-metrics/benchmarks/bench_scrape.py [--quick] [--seconds N]
    uv run nox -s bench -- bench_scrape

Two services hold the same 10,000 series (3,200 counters of four labels and 400 histograms of
the default 15 buckets, each series written once): one serves them with
``acgs_metrics.exposition.start_http_server``, the other with prometheus_client's own
``start_http_server``. Each runs in its own process, so neither waits on the other's GIL. A
real Prometheus scrapes both every second (it asks for OpenMetrics, as every Prometheus does)
and records ``scrape_duration_seconds``; the table shows its median and p95 per service and
the ratio. Needs the Debian ``prometheus`` binary.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from acgs_testkit.ports import free_port
from acgs_testkit.servers import prometheus
from acgs_testkit.waiting import stop_process, wait_for

SERVICE = """
import sys, threading
from prometheus_client import CollectorRegistry, Counter, Histogram
kind, port, scale = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
registry = CollectorRegistry()
requests = Counter("acgs_bench_requests", "Requests.", ["service", "method", "route", "status"],
                   registry=registry)
latency = Histogram("acgs_bench_latency_seconds", "Latency.", ["service", "route"],
                    registry=registry)
for i in range(3200 // scale):
    requests.labels(f"svc{i % 7}", "GET", f"/api/v1/r{i}", "200").inc(i)
for i in range(400 // scale):
    latency.labels(f"svc{i % 7}", f"/api/v1/r{i}").observe(i / 100)
if kind == "acgs_metrics":
    from acgs_metrics.exposition import start_http_server
    start_http_server(port, registry=registry)
else:
    from prometheus_client import start_http_server
    start_http_server(port, addr="127.0.0.1", registry=registry)
print("ready", flush=True)
threading.Event().wait()
"""
KINDS = ("acgs_metrics", "prometheus_client")


def scrape_config(ports: dict[str, int]) -> str:
    jobs = "".join(
        f"  - job_name: {kind}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        for kind, port in ports.items()
    )
    return (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n{jobs}"
    )


def quantiles(client: httpx.Client, kind: str, window_s: int) -> tuple[float, float, int] | None:
    """(median, p95, scrapes) of the job's scrape_duration_seconds over the window, in ms;
    None before Prometheus has any."""
    figures = []
    for query in (
        f"quantile_over_time(0.5, scrape_duration_seconds{{job='{kind}'}}[{window_s}s])",
        f"quantile_over_time(0.95, scrape_duration_seconds{{job='{kind}'}}[{window_s}s])",
        f"count_over_time(scrape_duration_seconds{{job='{kind}'}}[{window_s}s])",
    ):
        result = client.get("/api/v1/query", params={"query": query}).json()["data"]["result"]
        if not result:
            return None
        figures.append(float(result[0]["value"][1]))
    return figures[0] * 1000, figures[1] * 1000, int(figures[2])


def run(seconds: int, scale: int, console: Console) -> None:
    ports = {kind: free_port() for kind in KINDS}
    services = [
        subprocess.Popen(
            [sys.executable, "-c", SERVICE, kind, str(port), str(scale)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for kind, port in ports.items()
    ]
    try:
        for service in services:
            assert service.stdout is not None
            if service.stdout.readline().strip() != "ready":
                raise SystemExit("a bench service did not start; see its output above")
        with (
            tempfile.TemporaryDirectory(prefix="acgs-bench-scrape-") as workdir,
            prometheus(Path(workdir), scrape_config(ports)) as server,
        ):
            client = server.client()
            with Progress(transient=True) as progress:
                task = progress.add_task("Prometheus scraping both services", total=seconds)
                for _ in range(seconds):
                    time.sleep(1)
                    progress.advance(task)
            figures = {
                kind: wait_for(
                    lambda kind=kind: quantiles(client, kind, seconds),  # type: ignore[misc]
                    timeout_s=30,
                    what=f"scrape durations of {kind} in Prometheus",
                )
                for kind in KINDS
            }
    finally:
        for service in services:
            stop_process(service)
    show(figures, 10_000 // scale, console)


def show(figures: dict[str, tuple[float, float, int]], series: int, console: Console) -> None:
    table = Table(title=f"scrape_duration_seconds of a {series:,}-series service (real Prometheus)")
    for column in ("served by", "scrapes", "median", "p95"):
        table.add_column(column, justify="left" if column == "served by" else "right")
    for kind, (median, p95, count) in figures.items():
        table.add_row(kind, str(count), f"{median:.1f} ms", f"{p95:.1f} ms")
    ours, theirs = figures["acgs_metrics"], figures["prometheus_client"]
    table.add_row(
        "ratio", "", f"{ours[0] / theirs[0]:.2f}x", f"{ours[1] / theirs[1]:.2f}x", style="bold"
    )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60, help="how long Prometheus scrapes")
    parser.add_argument("--quick", action="store_true", help="a tenth of the series, 8 s")
    args = parser.parse_args(argv)
    console = Console() if Console().is_terminal else Console(width=120)
    run(8 if args.quick else args.seconds, 10 if args.quick else 1, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
