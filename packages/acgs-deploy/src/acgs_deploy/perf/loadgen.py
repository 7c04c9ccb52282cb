"""Asyncio load generator: N virtual users in one process against the Prometheus HTTP API.

Each virtual user is a coroutine that loops over the query mix starting at its own offset,
sends each query over a keep-alive HTTP/1.1 connection from a shared pool, reads the
response in full, then thinks for a random time (mean `think_s`) before the next request.
Latency runs from the moment the user asks (waiting for a pooled connection included) to
the last byte. The run stops by itself at `duration_s` or after `max_requests`, whichever
comes first, and sends traffic only to loopback addresses.

Why a shared pool: users do not reach Prometheus directly; Grafana's data source proxy
does, over its own pool (up to 100 idle connections per host by default). A connection per
user also cannot work: Prometheus serves at most 512 connections (`--web.max-connections`),
and measured here with 1000 users, the 488 users past that limit waited in the listen
backlog until they timed out.

Why h11 on raw asyncio streams and not httpx: measured here with 1000 users, httpx spent
about 2.3 ms of CPU per request (its pool scans every connection on each request), so the
generator held a whole core at under 400 requests/s and its own queueing showed up as
latency. A connection per user with h11 framing costs a fraction of that.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import h11
import psutil

from acgs_deploy.client import Endpoint
from acgs_deploy.perf.querymix import QueryRequest
from acgs_deploy.perf.stats import Sample

Progress = Callable[[float, int], None]
"""Called about twice a second with (elapsed seconds, requests done so far)."""

READ_SIZE = 65536
# Grafana's default MaxIdleConnsPerHost for a data source.
DEFAULT_CONNECTIONS = 100


class NotLoopback(ValueError):
    """The target is not on this machine: the load generator refuses to send traffic there."""


def require_loopback(endpoint: Endpoint) -> None:
    """Raise NotLoopback unless every address the host resolves to is a loopback address."""
    try:
        host = endpoint.hostname
    except ValueError as error:
        raise NotLoopback(str(error)) from error
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as error:
        raise NotLoopback(f"cannot resolve {host!r}: {error}") from error
    addresses = {str(info[4][0]) for info in infos}
    foreign = sorted(a for a in addresses if not ipaddress.ip_address(a).is_loopback)
    if foreign:
        raise NotLoopback(
            f"{host!r} resolves to {', '.join(foreign)}: load is only sent to loopback "
            "(127.0.0.0/8, ::1); point the stack's host at 127.0.0.1"
        )


@dataclass(frozen=True)
class LoadResult:
    """The requests made and what the generator itself cost."""

    users: int
    duration_s: float
    samples: list[Sample]
    cpu_s: float
    cpu_count: int

    @property
    def requests_per_s(self) -> float:
        return len(self.samples) / self.duration_s if self.duration_s else 0.0

    @property
    def generator_core_share(self) -> float:
        """The generator's CPU as a fraction of one core (1.0 = one core busy all the time)."""
        return self.cpu_s / self.duration_s if self.duration_s else 0.0

    @property
    def generator_machine_share(self) -> float:
        """The generator's CPU as a fraction of the whole machine (all cores)."""
        return self.generator_core_share / self.cpu_count


class _Connection:
    """One keep-alive HTTP/1.1 connection; reopened after the server closes it or on error."""

    def __init__(self, endpoint: Endpoint, context: ssl.SSLContext | None) -> None:
        self._endpoint = endpoint
        self._context = context
        self._headers = [("Host", endpoint.host_header), ("Accept-Encoding", "identity")]
        if endpoint.authorization is not None:
            self._headers.append(("Authorization", endpoint.authorization))
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._http = h11.Connection(h11.CLIENT)

    async def get(self, target: str) -> int:
        """Send GET `target`, read the whole response, return its status code."""
        if self._writer is None or self._http.our_state is not h11.IDLE:
            await self._open()
        assert self._reader is not None
        assert self._writer is not None
        request = h11.Request(method="GET", target=target, headers=self._headers)
        self._writer.write(self._http.send(request) + self._http.send(h11.EndOfMessage()))
        status = 0
        while True:
            event = self._http.next_event()
            if event is h11.NEED_DATA:
                data = await self._reader.read(READ_SIZE)
                self._http.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("server closed the connection mid-response")
        try:
            self._http.start_next_cycle()
        except h11.LocalProtocolError:
            await self.close()  # the server asked to close: reopen on the next request
        return status

    async def _open(self) -> None:
        await self.close()
        self._reader, self._writer = await asyncio.open_connection(
            self._endpoint.hostname,
            self._endpoint.port,
            ssl=self._context,
            server_hostname=self._endpoint.hostname if self._endpoint.tls else None,
        )
        self._http = h11.Connection(h11.CLIENT)

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                await writer.wait_closed()


@dataclass
class _Run:
    pool: asyncio.Queue[_Connection]
    mix: Sequence[QueryRequest]
    think_s: float
    timeout_s: float
    origin: float
    deadline: float
    remaining: int
    samples: list[Sample]
    rng: random.Random


async def _ask(run: _Run, target: str) -> str:
    """One request over a pooled connection; the error text, or "" on HTTP 200."""
    async with asyncio.timeout(run.timeout_s):
        connection = await run.pool.get()
        try:
            status = await connection.get(target)
        except (OSError, TimeoutError, h11.ProtocolError):
            await connection.close()
            raise
        finally:
            run.pool.put_nowait(connection)
    return "" if status == 200 else f"HTTP {status}"


async def _user(run: _Run, offset: int) -> None:
    # Spread the first requests over one think time instead of all users at the same instant.
    await asyncio.sleep(run.rng.uniform(0, run.think_s))
    index = offset
    while run.remaining > 0 and time.perf_counter() < run.deadline:
        run.remaining -= 1
        request = run.mix[index % len(run.mix)]
        index += 1
        target = f"{request.path}?{urlencode(request.params(time.time()))}"
        started = time.perf_counter()
        try:
            error = await _ask(run, target)
        except (OSError, TimeoutError, h11.ProtocolError) as failure:
            error = type(failure).__name__
        finished = time.perf_counter()
        run.samples.append(
            Sample(started - run.origin, finished - started, not error, request.kind, error)
        )
        remaining_s = run.deadline - finished
        if remaining_s <= 0:
            break
        await asyncio.sleep(min(remaining_s, run.rng.uniform(0, 2 * run.think_s)))


async def run_load_async(
    endpoint: Endpoint,
    mix: Sequence[QueryRequest],
    users: int,
    duration_s: float,
    think_s: float = 1.0,
    max_requests: int | None = None,
    timeout_s: float = 10.0,
    progress: Progress | None = None,
    seed: int = 0,
    connections: int = DEFAULT_CONNECTIONS,
) -> LoadResult:
    """Run the load; see the module docstring. `max_requests` defaults to 10 per user-second."""
    if users < 1:
        raise ValueError(f"users must be at least 1, got {users}")
    if duration_s <= 0:
        raise ValueError(f"duration must be positive, got {duration_s} s")
    if think_s < 0:
        raise ValueError(f"think time must not be negative, got {think_s} s")
    if not mix:
        raise ValueError("the query mix is empty")
    if connections < 1:
        raise ValueError(f"connections must be at least 1, got {connections}")
    require_loopback(endpoint)
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    context = endpoint.ssl_context()
    for _ in range(min(connections, users)):
        pool.put_nowait(_Connection(endpoint, context))
    cpu_before = time.process_time()
    origin = time.perf_counter()
    run = _Run(
        pool=pool,
        mix=mix,
        think_s=think_s,
        timeout_s=timeout_s,
        origin=origin,
        deadline=origin + duration_s,
        remaining=max_requests if max_requests is not None else int(users * duration_s * 10),
        samples=[],
        rng=random.Random(seed),  # noqa: S311 (think times, not secrets)
    )
    waiter = asyncio.gather(*(_user(run, i) for i in range(users)))
    while not waiter.done():
        if progress is not None:
            progress(time.perf_counter() - origin, len(run.samples))
        await asyncio.wait([waiter], timeout=0.5)
    await waiter
    elapsed = time.perf_counter() - origin
    while not pool.empty():
        await pool.get_nowait().close()
    if progress is not None:
        progress(elapsed, len(run.samples))
    return LoadResult(
        users=users,
        duration_s=elapsed,
        samples=run.samples,
        cpu_s=time.process_time() - cpu_before,
        cpu_count=psutil.cpu_count() or 1,
    )


def run_load(
    endpoint: Endpoint,
    mix: Sequence[QueryRequest],
    users: int,
    duration_s: float,
    think_s: float = 1.0,
    max_requests: int | None = None,
    timeout_s: float = 10.0,
    progress: Progress | None = None,
    seed: int = 0,
    connections: int = DEFAULT_CONNECTIONS,
) -> LoadResult:
    """Synchronous entry point: runs `run_load_async` in a fresh event loop."""
    return asyncio.run(
        run_load_async(
            endpoint,
            mix,
            users,
            duration_s,
            think_s,
            max_requests,
            timeout_s,
            progress,
            seed,
            connections,
        )
    )
