"""Real Redis, PostgreSQL, HAProxy and their exporters on free loopback ports, for tests.

Each is a :class:`~acgs_testkit.servers.Server` (a context manager, stopped on the way out
whatever happened). Credentials travel in files (0600) and environment variables, never argv.

    with redis_server(tmp_path / "redis") as redis, redis_exporter(tmp_path / "rx", redis):
        ...
    with postgres_server() as pg:         # as the postgres system user, data in a temp dir
        pg.dsn()                          # for psycopg; pg.password is the acgs role's
    with infra_stack(tmp_path, [rules]) as stack:   # all of it, with a Prometheus
        stack.query("redis_up")

PostgreSQL refuses root: the cluster is made with ``runuser -u postgres -- initdb`` in a
temporary directory owned by ``postgres`` (a pytest tmp_path is not reachable by that user)
and the server runs as that user (the process itself, so SIGTERM reaches the postmaster).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis
from psycopg import sql

from acgs_metrics import SERVICE_NAMES
from acgs_testkit.ports import free_port
from acgs_testkit.servers import Server, WebAuth, prometheus
from acgs_testkit.sim import SimProcess, free_base_port
from acgs_testkit.waiting import ServerExited, log_tail, poll, wait_for

__all__ = [
    "HAProxyServer",
    "InfraStack",
    "PostgresServer",
    "RedisServer",
    "haproxy",
    "haproxy_exporter",
    "infra_stack",
    "postgres_exporter",
    "postgres_server",
    "redis_exporter",
    "redis_server",
    "sim_env",
    "sim_infra_args",
]

# The newest installed server (Debian: /usr/lib/postgresql/<major>/bin, outside PATH).
PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"),
    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    default=Path("/usr/lib/postgresql/15/bin"),
)
PG_USER = "postgres"


class _Probed(Server):
    """A server that does not speak HTTP: ready when :meth:`probe` is True."""

    def probe(self) -> bool:
        raise NotImplementedError

    def wait_ready(self, process: subprocess.Popen[bytes], timeout_s: float) -> None:
        def ready() -> bool:
            if process.poll() is not None:
                raise ServerExited(f"{self.argv[0]} exited: {log_tail(self.log)}")
            return self.probe()

        if not poll(ready, bool, timeout_s, every_s=0.1):
            raise RuntimeError(
                f"{self.argv[0]} not ready after {timeout_s:g} s: {log_tail(self.log)}"
            )


class RedisServer(_Probed):
    password: str

    def redis_client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(
            port=self.port,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    def probe(self) -> bool:
        try:
            with self.redis_client(timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def redis_server(workdir: Path, *, port: int | None = None) -> RedisServer:
    """A Redis with a password (``.password``), no persistence, data in ``workdir``."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    config = workdir / "redis.conf"
    config.write_text(
        f'port {port}\nbind 127.0.0.1\ndir {workdir}\nsave ""\nappendonly no\n'
        f"requirepass {password}\n"
    )
    config.chmod(0o600)
    server = RedisServer(["redis-server", str(config)], port, workdir / "redis.log")
    server.password = password
    return server


class PostgresServer(_Probed):
    """A throwaway cluster with a role and a database both named ``acgs``."""

    database = "acgs"
    role = "acgs"

    def __init__(self, port: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="acgs-pg-"))
        self.password = secrets.token_urlsafe(16)  # the acgs role's
        self.superuser_password = secrets.token_urlsafe(16)
        data = self.root / "data"
        argv = [
            str(PG_BIN / "postgres"),
            "-D", str(data),
            "-p", str(port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self.root}",
            "-c", "fsync=off",  # a test cluster: speed over durability
        ]  # fmt: skip
        super().__init__(argv, port, self.root / "postgres.log", user=PG_USER)

    def dsn(self, *, superuser: bool = False, database: str | None = None) -> str:
        user, password = (
            (PG_USER, self.superuser_password) if superuser else (self.role, self.password)
        )
        return psycopg.conninfo.make_conninfo(
            host="127.0.0.1", port=self.port, user=user, password=password,
            dbname=database or self.database, connect_timeout=2,
        )  # fmt: skip

    def exporter_dsn(self, *, superuser: bool = False) -> str:
        user, password = (
            (PG_USER, self.superuser_password) if superuser else (self.role, self.password)
        )
        return (
            f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{self.database}?sslmode=disable"
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        try:
            self._initdb()
            super().start(timeout_s)
            with psycopg.connect(
                self.dsn(superuser=True, database="postgres"), autocommit=True
            ) as conn:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(self.role), sql.Literal(self.password)
                    )
                )
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(self.database), sql.Identifier(self.role)
                    )
                )
        except BaseException:
            self.stop()
            raise

    def _initdb(self) -> None:
        owner = pwd.getpwnam(PG_USER)
        os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.root.chmod(0o700)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        pwfile.chmod(0o600)
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        done = subprocess.run(
            ["runuser", "-u", PG_USER, "--", str(PG_BIN / "initdb"),
             "-D", str(self.root / "data"), "-U", PG_USER, f"--pwfile={pwfile}",
             "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")

    def probe(self) -> bool:
        try:
            with psycopg.connect(self.dsn(superuser=True, database="postgres")):
                return True
        except psycopg.Error:
            return False

    def halt(self) -> None:
        """Stop the server, keeping the cluster (:meth:`resume` starts it again).

        SIGINT, PostgreSQL's fast shutdown: SIGTERM (smart) would wait for every client
        (the exporter, acgs-sim) to disconnect first."""
        if self.running:
            os.kill(self.pid, signal.SIGINT)
        super().stop()

    def resume(self, timeout_s: float = 60.0) -> None:
        super().start(timeout_s)

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.root, ignore_errors=True)


def postgres_server(*, port: int | None = None) -> PostgresServer:
    return PostgresServer(port or free_port())


def redis_exporter(workdir: Path, redis_server: RedisServer, *, port: int | None = None) -> Server:
    """prometheus-redis-exporter watching `redis_server` (its password from the environment)."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        "prometheus-redis-exporter",
        f"-redis.addr=redis://{redis_server.address}",
        f"-web.listen-address=127.0.0.1:{port}",
    ]
    env = {"REDIS_PASSWORD": redis_server.password}
    return Server(argv, port, workdir / "redis_exporter.log", ready_path="/metrics", env=env)


def postgres_exporter(
    workdir: Path, pg: PostgresServer, *, port: int | None = None, auth: WebAuth | None = None
) -> Server:
    """prometheus-postgres-exporter watching `pg` as its superuser (DSN in the environment)."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = ["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{port}"]
    if auth is not None:
        argv.append(f"--web.config.file={auth.write(workdir / 'web.yml')}")
    env = {"DATA_SOURCE_NAME": pg.exporter_dsn(superuser=True)}
    return Server(argv, port, workdir / "postgres_exporter.log", "/metrics", auth=auth, env=env)


def haproxy_exporter(workdir: Path, front: HAProxyServer, *, port: int | None = None) -> Server:
    """prometheus-haproxy-exporter (the one the compose target runs) reading `front`'s stats."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        "prometheus-haproxy-exporter",
        f"--haproxy.scrape-uri={front.url}/stats;csv",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return Server(argv, port, workdir / "haproxy_exporter.log", ready_path="/metrics")


class HAProxyServer(Server):
    """HAProxy: ``front_url`` routes ``/<service>/...`` to the sim; :attr:`url` is the
    native Prometheus exporter (``/metrics``) and the stats page (``/stats``)."""

    front_port: int

    @property
    def front_url(self) -> str:
        return f"http://127.0.0.1:{self.front_port}"


def haproxy_config(
    front_port: int, metrics_port: int, sim_base_port: int, services: Sequence[str]
) -> str:
    """The routing acgs-sim's ``--via`` expects (see its README): ``/<service>/...`` to that
    service's backend, prefix stripped, health-checked on ``/health`` every second."""
    lines = [
        "global\n  maxconn 512\n",
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n",
        f"frontend acgs\n  bind 127.0.0.1:{front_port}",
        *(f"  use_backend acgs_{s} if {{ path_beg /{s}/ }}" for s in services),
        "",
        f"frontend metrics\n  bind 127.0.0.1:{metrics_port}",
        "  http-request use-service prometheus-exporter if { path /metrics }",
        "  http-request return status 404 unless { path_beg /stats }",
        "  stats enable\n  stats uri /stats\n",
    ]
    for service in services:
        port = sim_base_port + SERVICE_NAMES.index(service)
        lines += [
            f"backend acgs_{service}",
            "  option httpchk GET /health",
            f"  http-request replace-path /{service}(/.*) \\1",
            f"  server {service} 127.0.0.1:{port} check inter 1s fall 2 rise 1\n",
        ]
    return "\n".join(lines)


def haproxy(
    workdir: Path,
    sim_base_port: int,
    services: Sequence[str] = SERVICE_NAMES,
    *,
    port: int | None = None,
    metrics_port: int | None = None,
) -> HAProxyServer:
    front_port, metrics_port = port or free_port(), metrics_port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "haproxy.cfg"
    config.write_text(haproxy_config(front_port, metrics_port, sim_base_port, services))
    argv = ["haproxy", "-W", "-db", "-f", str(config)]
    server = HAProxyServer(argv, metrics_port, workdir / "haproxy.log", ready_path="/metrics")
    server.front_port = front_port
    return server


def sim_infra_args(
    redis: RedisServer | None, pg: PostgresServer | None, front: HAProxyServer | None = None
) -> list[str]:
    """acgs-sim's options for these servers (credentials: :func:`sim_env`)."""
    args = []
    if redis is not None:
        args += ["--redis", redis.address]
    if pg is not None:
        args += ["--postgres", pg.address]
    if front is not None:
        args += ["--via", front.front_url]
    return args


def sim_env(redis: RedisServer | None, pg: PostgresServer | None) -> dict[str, str]:
    """The environment that gives acgs-sim their credentials."""
    env = {}
    if redis is not None:
        env["ACGS_SIM_REDIS_PASSWORD"] = redis.password
    if pg is not None:
        env["ACGS_SIM_POSTGRES_PASSWORD"] = pg.password
    return env


@dataclass
class InfraStack:
    """acgs-sim using Redis and PostgreSQL, its traffic through HAProxy, and a Prometheus
    scraping every second: the services (jobs ``acgs-<service>``), ``haproxy``, ``redis``
    and ``postgres`` (the exporters), evaluating the given rule files."""

    prometheus: Server
    sim: SimProcess
    redis: RedisServer
    postgres: PostgresServer
    haproxy: HAProxyServer
    redis_exporter: Server
    postgres_exporter: Server

    def query(self, expr: str) -> list[dict[str, Any]]:
        with self.prometheus.client() as client:
            body = client.get("/api/v1/query", params={"query": expr}).raise_for_status().json()
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, expr: str, timeout_s: float = 60) -> list[dict[str, Any]]:
        """Until ``expr`` has a result; that result."""
        return wait_for(lambda: self.query(expr), timeout_s, f"a result for {expr}", every_s=0.5)


@contextmanager
def infra_stack(workdir: Path, rule_files: Sequence[Path] = ()) -> Iterator[InfraStack]:
    """Start :class:`InfraStack` in ``workdir``; everything is stopped when the block ends."""
    with ExitStack() as cleanup:
        redis = cleanup.enter_context(redis_server(workdir / "redis"))
        pg = cleanup.enter_context(postgres_server())
        rx = cleanup.enter_context(redis_exporter(workdir / "redis_exporter", redis))
        px = cleanup.enter_context(postgres_exporter(workdir / "postgres_exporter", pg))
        base = free_base_port()
        front = haproxy(workdir / "haproxy", base)
        sim = SimProcess(
            base, "--seed", "7", *sim_infra_args(redis, pg, front), env=sim_env(redis, pg)
        )
        cleanup.callback(lambda: sim.process is not None and sim.terminate())
        sim.start(timeout=60)  # a loaded machine (CI, parallel tests) starts it slowly
        # HAProxy after the services, so its first health checks pass.
        cleanup.enter_context(front)
        port = free_port()
        jobs = [
            ("haproxy", front.port),
            ("redis", rx.port),
            ("postgres", px.port),
            *((f"acgs-{s}", sim.port(s)) for s in sim.services),
        ]
        rules = ", ".join(f"'{p}'" for p in rule_files)
        # postgres_exporter takes a second to find PostgreSQL down: its scrapes get 3 s.
        config = (
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: [{rules}]\nscrape_configs:\n"
            + "".join(
                f"- job_name: {job}\n  static_configs: [{{targets: ['127.0.0.1:{p}']}}]\n"
                + ("  scrape_interval: 3s\n  scrape_timeout: 3s\n" if job == "postgres" else "")
                for job, p in jobs
            )
        )
        server = cleanup.enter_context(prometheus(workdir / "prometheus", config, port=port))
        stack = InfraStack(server, sim, redis, pg, front, rx, px)
        stack.wait_for("min(up) == 1 and count(up) == 10")
        # HAProxy counts the traffic only once every backend passed a check.
        stack.wait_for(f"count(haproxy_backend_active_servers == 1) == {len(sim.services)}")
        yield stack
