"""What a burst of wrong passwords does to a good client, per bcrypt cost of the stack's hash.

For each cost, a real Prometheus (``--servers``: and/or Alertmanager) runs
behind the stack's rendered web config (:func:`acgs_deploy.render.web_config`: TLS, bcrypt
basic auth) with the password hashed at that cost. Another process sends ``--rate`` attempts
a second, each with a new random password (nothing the server can answer from its cache),
for ``--seconds`` + 1; from 1 s into the burst a good client queries once a second, each
query allowed ``--timeout`` seconds. Bursts:

- ``wrong password``: the real user name with a wrong password: bcrypt at the tested cost;
- ``unknown user``:   a user name the server does not know: exporter-toolkit then checks a
  fixed cost-10 hash (so that timing does not tell which names exist), whatever our cost.

Good clients:

- ``cached``: its credentials checked once before the burst, as a running scraper's are;
- ``uncached``: every query needs a bcrypt check, as the first one after a restart of the
  server does, or one whose cache entry the burst pushed out. (The password is 72 bytes,
  bcrypt's limit, and each query appends its own suffix: bcrypt ignores it, the cache key
  does not, so each query is a cache miss with right credentials.)

exporter-toolkit 0.8 (Prometheus 2.42, Alertmanager 0.25, node_exporter 1.5 in Debian) runs
one bcrypt check at a time (a mutex) and caches 100 (user, hash, password) results, right
and wrong ones alike, evicting ~10 % at random when full. A good client not in the cache
(uncached, or pushed out by the burst's results) queues behind every wrong attempt before it.

Prints, per server, cost, burst and good client: the good client's latency p50/p95/max and
how many of its queries succeeded, and how many wrong attempts were refused per second.
Run: `uv run python packages/acgs-deploy/benchmarks/bench_auth.py [--costs 12 5 4]
[--servers prometheus alertmanager]` (15 to 40 s per row; the defaults take about 10 min).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from acgs_deploy.secrets import BCRYPT_ROUNDS
from acgs_testkit.ca import Certs, make_certs
from acgs_testkit.servers import Server, WebAuth, alertmanager, prometheus

USERNAME = "acgs_monitor"
BURSTS = {"wrong password": USERNAME, "unknown user": "intruder"}
# The attacker's open connections: beyond this its requests wait on its own side.
ATTACK_CONNECTIONS = 256
# Paths a good client asks for: a small query, Alertmanager's status.
GOOD_PATHS = {"prometheus": "/api/v1/query?query=up", "alertmanager": "/api/v2/status"}
STARTERS: dict[str, Callable[..., Server]] = {
    "prometheus": prometheus,
    "alertmanager": alertmanager,
}


@dataclass(frozen=True)
class Args:
    costs: list[int]
    rate: float
    seconds: float
    timeout: float
    bursts: list[str]
    servers: list[str]


@dataclass(frozen=True)
class Row:
    server: str
    cost: int
    burst: str
    good: str  # "cached" or "uncached"
    latencies: list[float]  # the good client's, in seconds (failed ones count as timeout)
    ok: int
    refused: int  # wrong attempts refused (401) during the burst


def attack(url: str, ca: str, username: str, rate: float, seconds: float, out: Connection) -> None:
    """In a process of its own: ``rate`` wrong attempts a second for ``seconds``, open loop
    (a new attempt every 1/rate s, whether the earlier ones were answered or not); sends back
    how many were refused before the end."""
    out.send(asyncio.run(_attack(url, ca, username, rate, seconds)))
    out.close()


async def _attack(url: str, ca: str, username: str, rate: float, seconds: float) -> int:
    limits = httpx.Limits(max_connections=ATTACK_CONNECTIONS)
    refused = 0
    async with httpx.AsyncClient(
        base_url=url, verify=ca, limits=limits, timeout=seconds + 5
    ) as client:
        start = time.monotonic()

        async def one() -> None:
            nonlocal refused
            response = await client.get("/-/healthy", auth=(username, secrets.token_urlsafe(16)))
            refused += response.status_code == 401

        tasks = []
        for index in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))
        counted = refused  # what is still queued at the server now is not counted
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return counted


def good_client(
    client: httpx.Client, path: str, password: Callable[[int], str], queries: int, args: Args
) -> tuple[list[float], int]:
    """Query ``path`` once a second, ``queries`` times, each on time whether the one before
    has been answered or not (as a scraper does); (latencies, successes)."""

    def query(second: int) -> float | None:
        time.sleep(max(0.0, start + second - time.monotonic()))
        began = time.monotonic()
        try:
            response = client.get(path, auth=(USERNAME, password(second)))
        except httpx.TimeoutException:
            return None
        return time.monotonic() - began if response.status_code == 200 else None

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=queries) as pool:
        answers = list(pool.map(query, range(queries)))
    latencies = [args.timeout if answer is None else answer for answer in answers]
    return latencies, sum(answer is not None for answer in answers)


def measure(server: Server, name: str, cost: int, burst: str, good: str, args: Args) -> Row:
    """The burst against ``server`` for ``args.seconds`` + 1; the good client queries from
    1 s into it, once a second, until it ends."""
    assert server.auth is not None
    receive, send = multiprocessing.Pipe(duplex=False)
    attacker = multiprocessing.Process(
        target=attack,
        args=(server.url, str(server.auth.ca), BURSTS[burst], args.rate, args.seconds + 1, send),
    )
    right = server.auth.password
    # cached: the very password checked when the server was started. uncached: past bcrypt's
    # 72 bytes, the same check under a cache key of its own for each query.
    password: Callable[[int], str] = (
        (lambda _: right) if good == "cached" else (lambda second: f"{right}#{second}")
    )
    with server.client(timeout=args.timeout) as client:
        attacker.start()
        time.sleep(1.0)
        latencies, ok = good_client(client, GOOD_PATHS[name], password, int(args.seconds), args)
    refused: int = receive.recv()
    attacker.join()
    # The burst leaves a queue of checks behind, which a graceful stop would wait for.
    os.kill(server.pid, signal.SIGKILL)
    return Row(name, cost, burst, good, latencies, ok, refused)


def run_server(
    start: Callable[..., Server],
    name: str,
    workdir: Path,
    certs: Certs,
    cost: int,
    args: Args,
) -> list[Row]:
    auth = WebAuth(
        certs.server_cert,
        certs.server_key,
        certs.ca,
        USERNAME,
        secrets.token_urlsafe(54),  # 72 bytes: bcrypt's limit
        bcrypt_cost=cost,
    )
    rows = []
    for burst in args.bursts:
        for good in ("cached", "uncached"):
            # A fresh server each time: an empty cache and no queue left by the one before.
            folder = workdir / f"{name}-{cost}-{burst.replace(' ', '-')}-{good}"
            with start(folder, auth=auth) as server:
                rows.append(measure(server, name, cost, burst, good, args))
    return rows


def table(rows: list[Row], args: Args) -> Table:
    out = Table(
        title=f"{args.rate:g} wrong attempts/s for {args.seconds + 1:g} s; from 1 s into it a "
        f"good client queries once a second (timeout {args.timeout:g} s)"
    )
    for column in ("server", "bcrypt cost", "burst", "good client", "good ok"):
        out.add_column(column)
    for column in ("p50 ms", "p95 ms", "max ms", "wrong refused/s"):
        out.add_column(column, justify="right")
    for row in rows:
        ms = sorted(1000 * s for s in row.latencies)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        out.add_row(
            row.server,
            f"{row.cost}{' (current)' if row.cost == BCRYPT_ROUNDS else ''}",
            row.burst,
            row.good,
            f"{row.ok}/{len(row.latencies)}",
            f"{statistics.median(ms):.0f}",
            f"{p95:.0f}",
            f"{ms[-1]:.0f}",
            f"{row.refused / (args.seconds + 1):.0f}",
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--costs", type=int, nargs="+", default=[12, 10, 8, 6, 5, 4])
    parser.add_argument("--rate", type=float, default=100.0, help="wrong attempts a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the burst")
    parser.add_argument("--timeout", type=float, default=5.0, help="good client's timeout (s)")
    parser.add_argument("--bursts", nargs="+", choices=sorted(BURSTS), default=list(BURSTS))
    parser.add_argument("--servers", nargs="+", choices=sorted(STARTERS), default=["prometheus"])
    args = Args(**vars(parser.parse_args()))
    console = Console(width=160)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="acgs-bench-auth-") as tmp:
        certs = make_certs(Path(tmp) / "certs")
        for name in args.servers:
            for cost in args.costs:
                rows += run_server(STARTERS[name], name, Path(tmp), certs, cost, args)
                console.print(f"{name}, cost {cost}: done")
    console.print(table(rows, args))


if __name__ == "__main__":
    main()
