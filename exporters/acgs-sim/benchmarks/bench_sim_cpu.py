"""CPU and memory of a running ``acgs-sim`` (all seven services), as it runs beside Prometheus.

Scenarios, each measured from /proc over a window (default 20 s, ``--window S``):

- ``no traffic``: ``--traffic-scale 0``, ticks only;
- ``default traffic``: the built-in background traffic, nobody scraping;
- ``traffic + scrapes``: the same, plus all seven /metrics scraped every 5 s, like the
  stack's Prometheus does;
- ``via HAProxy, Redis, PostgreSQL``: the traffic over HTTP through a real HAProxy into
  services that use a real Redis and PostgreSQL (``--via``, ``--redis``, ``--postgres``),
  scraped every 5 s (the sim's own CPU; HAProxy, Redis and PostgreSQL are not counted).

Prints CPU as a percentage of one core, the API request rate the middleware counted, the
mean /metrics scrape time and the resident memory. ``--replicas N`` measures a fleet (N
instances of each service, every one scraped). Run: ``python
exporters/acgs-sim/benchmarks/bench_sim_cpu.py [--replicas 20]`` (or ``nox -s bench --
bench_sim_cpu``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from acgs_testkit.infra import haproxy, postgres_server, redis_server, sim_env, sim_infra_args
from acgs_testkit.sim import SimProcess, free_base_port, parse_metrics

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SCRAPE_EVERY_S = 5.0


@dataclass
class Result:
    scenario: str
    cpu_percent: float
    requests_per_s: float
    scrape_ms: float | None
    rss_mb: float


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


def requests_total(client: httpx.Client, sim: SimProcess) -> float:
    total = 0.0
    for target in sim.targets():
        samples = parse_metrics(client.get(f"http://{target}/metrics").text)
        total += sum(
            s.value
            for s in samples
            if s.name == "acgs_http_requests_total"
            and s.labels["endpoint"] not in ("/metrics", "/health")
        )
    return total


@contextmanager
def simulator(traffic_scale: float, infrastructure: bool, replicas: int) -> Iterator[SimProcess]:
    """The sim (`replicas` instances of each service), with a real HAProxy, Redis and
    PostgreSQL when ``infrastructure``."""
    base = free_base_port(replicas)
    args = ["--traffic-scale", str(traffic_scale), "--seed", "1"]
    with ExitStack() as cleanup:
        env: dict[str, str] = {}
        if infrastructure:
            state = Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
            redis = cleanup.enter_context(redis_server(state / "redis"))
            pg = cleanup.enter_context(postgres_server())
            front = cleanup.enter_context(haproxy(state / "haproxy", base))
            args += sim_infra_args(redis, pg, front)
            env = sim_env(redis, pg)
        sim = SimProcess(base, *args, env=env, replicas=replicas)
        try:
            sim.start(timeout=60)
            yield sim
        finally:
            if sim.process is not None:
                sim.terminate()


def measure(
    scenario: str,
    traffic_scale: float,
    scrape: bool,
    window: float,
    progress: Progress,
    replicas: int = 1,
    infrastructure: bool = False,
) -> Result:
    with simulator(traffic_scale, infrastructure, replicas) as sim:
        assert sim.process is not None
        pid = sim.process.pid
        with httpx.Client(timeout=10) as client:
            time.sleep(min(2.0, window))  # let start-up work settle
            requests_before = requests_total(client, sim)
            cpu_before, started = cpu_seconds(pid), time.monotonic()
            scrape_times: list[float] = []
            next_scrape = started
            task = progress.add_task(scenario, total=window)
            while (elapsed := time.monotonic() - started) < window:
                if scrape and time.monotonic() >= next_scrape:
                    for target in sim.targets():
                        begun = time.perf_counter()
                        client.get(f"http://{target}/metrics")
                        scrape_times.append(time.perf_counter() - begun)
                    next_scrape += SCRAPE_EVERY_S
                progress.update(task, completed=elapsed)
                time.sleep(0.2)
            cpu = cpu_seconds(pid) - cpu_before
            seconds = time.monotonic() - started
            progress.update(task, completed=window)
            rate = (requests_total(client, sim) - requests_before) / seconds
            return Result(
                scenario,
                100 * cpu / seconds,
                rate,
                1000 * statistics.mean(scrape_times) if scrape_times else None,
                rss_mb(pid),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument("--replicas", type=int, default=1, help="instances of each service")
    args = parser.parse_args()
    console = Console()
    n = args.replicas
    with Progress(console=console, transient=True) as progress:
        results = [
            measure("no traffic", 0.0, False, args.window, progress, n),
            measure("default traffic", 1.0, False, args.window, progress, n),
            measure("traffic + scrapes every 5 s", 1.0, True, args.window, progress, n),
            *(
                [
                    measure(
                        "via HAProxy, Redis, PostgreSQL + scrapes",
                        1.0,
                        True,
                        args.window,
                        progress,
                        infrastructure=True,
                    )
                ]
                if n == 1  # the test HAProxy fronts one instance of each service
                else []
            ),
        ]
    fleet = "all seven services" if n == 1 else f"{n} instances of each of the seven services"
    table = Table(title=f"acgs-sim, {fleet} ({args.window:g} s per scenario)")
    for column in ("scenario", "CPU (% of one core)", "API requests/s", "scrape ms", "RSS MB"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for r in results:
        table.add_row(
            r.scenario,
            f"{r.cpu_percent:.1f}",
            f"{r.requests_per_s:.1f}",
            "-" if r.scrape_ms is None else f"{r.scrape_ms:.1f}",
            f"{r.rss_mb:.0f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
