"""acgs-sim with real Redis, PostgreSQL and HAProxy: they are used, their outages degrade or
fail the right requests without stopping the simulator, and the traffic goes through HAProxy."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from acgs_sim.backends import Backends
from acgs_sim.store_postgres import PostgresBackend, PostgresOptions
from acgs_testkit.infra import (
    PostgresServer,
    RedisServer,
    haproxy,
    postgres_server,
    redis_server,
    sim_env,
    sim_infra_args,
)
from acgs_testkit.ports import free_port
from acgs_testkit.sim import ACGS_SIM, SimProcess, free_base_port, parse_metrics
from acgs_testkit.waiting import poll, wait_for

# The routes that never go through the traffic generator.
NOT_API = ("/health", "/metrics", "/control/faults", "/control/faults/{fault}")


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as server:
        yield server


def _api_requests(client: httpx.Client, sim: SimProcess, service: str) -> float:
    samples = parse_metrics(client.get(f"{sim.url(service)}/metrics").text)
    return sum(
        s.value
        for s in samples
        if s.name == "acgs_http_requests_total" and s.labels["endpoint"] not in NOT_API
    )


def _haproxy_responses(client: httpx.Client, url: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for sample in parse_metrics(client.get(f"{url}/metrics").text):
        if sample.name == "haproxy_backend_http_responses_total":
            service = sample.labels["proxy"].removeprefix("acgs_")
            found[service] = found.get(service, 0.0) + sample.value
    return found


def test_traffic_through_haproxy_uses_redis_and_postgres(
    run_sim: type[SimProcess], redis: RedisServer, pg: PostgresServer, tmp_path: Path
) -> None:
    base = free_base_port()
    front = haproxy(tmp_path / "haproxy", base)
    sim = run_sim(base, *sim_infra_args(redis, pg, front), env=sim_env(redis, pg))
    # HAProxy after the services: a server it never saw down is not answered with 503s of
    # HAProxy's own (the few requests sent before it listens reach nobody).
    sim.start(timeout=60)  # psycopg and redis load slowly on a busy machine
    with front, httpx.Client(timeout=5) as client:
        counts = poll(
            lambda: _haproxy_responses(client, front.url),
            lambda found: len(found) == len(sim.services) and min(found.values()) >= 20,
            timeout_s=60,
        )
        assert min(counts.values()) >= 20, counts
        # Read after HAProxy: every response HAProxy counted was counted by its service
        # first; the services may have served a few more in between.
        served = {s: _api_requests(client, sim, s) for s in counts}
        for service, through in counts.items():
            assert through <= served[service] <= through * 1.2 + 5, (service, through)
        # A request of our own through the front reaches gs, which reads PostgreSQL.
        answer = client.get(f"{front.front_url}/gs/policies").raise_for_status().json()
        assert answer["recent_actions"] > 0
        with redis.redis_client() as cache:
            stats = cache.info("stats")
            assert stats["keyspace_hits"] > 0
            assert stats["keyspace_misses"] > 0
            assert cache.ttl("acgs:principle:fairness") > 0
        with psycopg.connect(pg.dsn()) as conn:
            rows = conn.execute(
                "SELECT (SELECT count(*) FROM governance_actions),"
                " (SELECT count(*) FROM governance_decisions)"
            ).fetchone()
        assert rows is not None
        assert min(rows) > 0
        health = client.get(f"{sim.url('gs')}/health").json()
        assert health["status"] == "ok"
        assert {b["state"] for b in health["backends"].values()} == {"up"}


def test_redis_stopped_fails_sessions_and_degrades_lookups(
    run_sim: type[SimProcess], redis: RedisServer
) -> None:
    sim = run_sim(
        free_base_port(), "--traffic-scale", "0", *sim_infra_args(redis, None),
        services=["auth", "ac"], env=sim_env(redis, None),
    )  # fmt: skip
    sim.start(timeout=60)  # psycopg and redis load slowly on a busy machine
    with httpx.Client(timeout=10) as client:
        login = f"{sim.url('auth')}/auth/login"
        principle = f"{sim.url('ac')}/principles/fairness"
        assert client.post(login).status_code in (200, 401)
        # The handler looks up a random principle: after a few, they come from the cache.
        assert True in {client.get(principle).json()["cached"] for _ in range(40)}
        redis.stop()
        started = time.monotonic()
        refused = client.post(login)
        assert refused.status_code == 503
        assert "redis unavailable" in refused.json()["error"]
        lookup = client.get(principle)
        assert lookup.status_code == 200
        assert lookup.json()["cached"] is False
        assert time.monotonic() - started < 3  # a stopped Redis refuses at once
        health = client.get(f"{sim.url('auth')}/health").json()
        assert health["status"] == "degraded"
        assert health["backends"]["redis"]["state"] == "down"
        assert health["backends"]["redis"]["errors"] >= 2
        statuses = {
            s.labels["status_code"]: s.value
            for s in parse_metrics(client.get(f"{sim.url('auth')}/metrics").text)
            if s.name == "acgs_http_requests_total" and s.labels["endpoint"] == "/auth/login"
        }
        assert statuses.get("503") == 1
        redis.start()
        assert client.post(login).status_code in (200, 401)
        assert client.get(f"{sim.url('auth')}/health").json()["status"] == "ok"
    assert sim.process is not None
    assert sim.process.poll() is None


def test_postgres_stopped_fails_writes_and_comes_back(
    run_sim: type[SimProcess], pg: PostgresServer
) -> None:
    sim = run_sim(
        free_base_port(), "--traffic-scale", "0", *sim_infra_args(None, pg),
        services=["gs", "pgc"], env=sim_env(None, pg),
    )  # fmt: skip
    sim.start(timeout=60)  # psycopg and redis load slowly on a busy machine
    with httpx.Client(timeout=10) as client:
        proposals, decisions = f"{sim.url('gs')}/proposals", f"{sim.url('pgc')}/decisions"
        assert client.post(proposals).status_code == 201
        assert client.post(decisions).status_code == 200
        pg.halt()
        try:
            started = time.monotonic()
            assert client.post(proposals).status_code == 503
            assert client.post(decisions).status_code == 503
            assert client.get(f"{sim.url('gs')}/policies").status_code == 503
            assert time.monotonic() - started < 6
            health = client.get(f"{sim.url('gs')}/health").json()
            assert health["status"] == "degraded"
            assert health["backends"]["postgresql"]["state"] == "down"
            # A refused action did not happen: one action counted, the one before the stop.
            actions = [
                s.value
                for s in parse_metrics(client.get(f"{sim.url('gs')}/metrics").text)
                if s.name == "acgs_governance_actions_total"
            ]
            assert sum(actions) == 1
        finally:
            pg.resume()
        wait_for(
            lambda: client.post(proposals).status_code == 201, 10, "gs to write again", every_s=0.5
        )
    assert sim.process is not None
    assert sim.process.poll() is None


def test_backends_unreachable_from_the_start(run_sim: type[SimProcess]) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    sim = run_sim(
        free_base_port(), "--traffic-scale", "0", "--redis", nowhere, "--postgres", nowhere,
        services=["auth", "gs"],
    )  # fmt: skip
    sim.start(timeout=60)  # psycopg and redis load slowly on a busy machine
    with httpx.Client(timeout=10) as client:
        assert client.post(f"{sim.url('auth')}/auth/login").status_code == 503
        assert client.post(f"{sim.url('gs')}/proposals").status_code == 503
        backends = client.get(f"{sim.url('gs')}/health").json()["backends"]
        assert backends["redis"]["state"] == "down"
        assert backends["postgresql"]["state"] == "down"


def test_schema_is_created_once_whoever_starts_first(pg: PostgresServer) -> None:
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS governance_actions, governance_decisions")
    options = PostgresOptions("127.0.0.1", pg.port, pg.database, pg.role, pg.password)
    stores = [Backends(postgres=PostgresBackend(options)) for _ in range(4)]
    errors: list[BaseException] = []

    def write(store: Backends) -> None:
        try:
            store.record_action("gs", "proposal", 0.25)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert Backends(postgres=PostgresBackend(options)).recent_actions() == 4


def test_slow_backend_fault(run_sim: type[SimProcess]) -> None:
    sim = run_sim(free_base_port(), "--traffic-scale", "0", services=["integrity"])
    sim.start(timeout=60)  # psycopg and redis load slowly on a busy machine
    with httpx.Client(timeout=10) as client:
        url = sim.url("integrity")
        fault = {"fault": "slow_backend", "value": 0.6}
        assert client.post(f"{url}/control/faults", json=fault).status_code == 201
        started = time.monotonic()
        assert client.get(f"{url}/records/record-00001").status_code == 200
        assert time.monotonic() - started >= 0.6
        started = time.monotonic()
        assert client.get(f"{url}/health").status_code == 200
        assert time.monotonic() - started < 0.5


def test_credentials_stay_out_of_argv(
    run_sim: type[SimProcess], redis: RedisServer, pg: PostgresServer
) -> None:
    sim = run_sim(
        free_base_port(), "--traffic-scale", "0", *sim_infra_args(redis, pg),
        services=["auth"], env=sim_env(redis, pg),
    )  # fmt: skip
    sim.start(timeout=60)  # psycopg and redis load slowly on a busy machine
    assert sim.process is not None
    cmdline = Path(f"/proc/{sim.process.pid}/cmdline").read_bytes()
    out, err = sim.output()
    for password in (redis.password, pg.password):
        assert password.encode() not in cmdline
        assert password not in out + err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redis", "localhost"], "--redis 'localhost': expected HOST:PORT"),
        (["--postgres", "db:notaport"], "--postgres 'db:notaport': expected HOST:PORT"),
        (["--via", "ftp://x"], "--via 'ftp://x': expected an http(s) URL"),
        (["--via", "http://u:p@x"], "--via: no credentials in the URL"),
        (["--via-ca", "/nonexistent"], "--via-ca needs --via"),
    ],
)
def test_bad_infrastructure_options(args: list[str], message: str) -> None:
    done = subprocess.run(
        [str(ACGS_SIM), "--base-port", str(free_base_port()), *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
