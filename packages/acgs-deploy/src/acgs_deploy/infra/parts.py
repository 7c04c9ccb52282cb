"""The infrastructure's processes as stack components (`acgs_deploy.components.Component`):
command line, ports, health probe, and the files whose change restarts them.

- haproxy: ``haproxy -W -db -f config/haproxy.cfg``; healthy when its exporter answers 200
  through TLS and auth on `haproxy_metrics_port`.
- redis: ``redis-server config/redis.conf``; healthy when it answers PING after AUTH.
- redis_exporter: on loopback `redis_exporter_backend_port`, the Redis password in its
  environment (REDIS_PASSWORD, never argv); redis_exporter_tls: the HAProxy in front of it.
- postgres: see `acgs_deploy.infra.postgres`; healthy when ``pg_isready`` says so.
- postgres_exporter: its own ``--web.config.file`` (the stack's web.yml: TLS, bcrypt auth), the
  connection string in DATA_SOURCE_NAME.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable

import httpx

from acgs_deploy import haproxy
from acgs_deploy.client import base_url
from acgs_deploy.component import Component, http_checks, server_checks
from acgs_deploy.infra import postgres, redis
from acgs_deploy.infra.render import FILES, MONITOR_URI
from acgs_deploy.process import ProcessSpec
from acgs_deploy.render import hostport
from acgs_deploy.secrets import Secrets, SecretsError
from acgs_deploy.settings import StackSettings

__all__ = ["BINARIES", "infra_components"]

REDIS_EXPORTER = "prometheus-redis-exporter"
POSTGRES_EXPORTER = "prometheus-postgres-exporter"
# Part -> the binary it runs (the names of `acgs_deploy.binaries.BINARIES`).
BINARIES = {
    "haproxy": haproxy.HAPROXY,
    "redis": redis.REDIS_SERVER,
    "redis_exporter": REDIS_EXPORTER,
    "redis_exporter_tls": haproxy.HAPROXY,
    "postgres": "postgres",
    "postgres_exporter": POSTGRES_EXPORTER,
}
Checks = tuple[Callable[[], bool], Callable[[], bool]]


def infra_components(
    settings: StackSettings, secrets: Secrets | None, parts: list[str]
) -> list[Component]:
    """The components of `parts` (names of `acgs_deploy.infra.PARTS`), in that order.
    `secrets` are needed only to start the exporters (their environment holds passwords)."""
    makers = {
        "redis": _redis,
        "postgres": _postgres,
        "haproxy": _haproxy,
        "redis_exporter": _redis_exporter,
        "redis_exporter_tls": _redis_front,
        "postgres_exporter": _postgres_exporter,
    }
    return [makers[part](settings, secrets) for part in parts]


def _installed(binary: str) -> bool:
    return shutil.which(binary) is not None


def _part(
    settings: StackSettings,
    name: str,
    spec: ProcessSpec | None,
    url: str,
    ports: dict[str, int],
    checks: Checks,
) -> Component:
    probe, answers = checks
    return Component(
        name=name,
        url=url,
        host=settings.host,
        spec=spec,
        ports=list(ports.values()),
        probe=probe,
        answers=answers,
        host_key="host",
        port_key=next(iter(ports)),
        not_installed=f"{name}: not installed: run `invoke install-deps` as root",
        optional=True,
        port_keys=list(ports),
        config_files=[FILES[name]] if name in FILES else [],
        restarts_on_new_certificates=spec is not None and spec.argv[0] == haproxy.HAPROXY,
    )


def _haproxy(settings: StackSettings, _: Secrets | None) -> Component:
    config = settings.layout.config_dir / FILES["haproxy"]
    spec = haproxy.haproxy_spec("haproxy", config) if _installed(haproxy.HAPROXY) else None
    front = f"http://{hostport(settings.connect_host, settings.haproxy_port)}"
    return _part(
        settings,
        "haproxy",
        spec,
        f"{front} (metrics {base_url(settings, 'haproxy')}/metrics)",
        {
            "haproxy_port": settings.haproxy_port,
            "haproxy_metrics_port": settings.haproxy_metrics_port,
        },
        _both(server_checks(settings, "haproxy", "/metrics"), _plain(f"{front}{MONITOR_URI}")),
    )


def _redis(settings: StackSettings, _: Secrets | None) -> Component:
    config = settings.layout.config_dir / FILES["redis"]
    spec = redis.redis_spec(config) if _installed(redis.REDIS_SERVER) else None

    def probe() -> bool:
        try:
            password = Secrets.load(settings.state_dir).redis_password
        except SecretsError:
            return False
        return redis.ping(settings, password)

    return _part(
        settings,
        "redis",
        spec,
        f"redis://{hostport(settings.connect_host, settings.redis_port)}",
        {"redis_port": settings.redis_port},
        (probe, lambda: True),
    )


def _redis_exporter(settings: StackSettings, secrets: Secrets | None) -> Component:
    backend = hostport("127.0.0.1", settings.redis_exporter_backend_port)
    argv = [
        REDIS_EXPORTER,
        f"-web.listen-address={backend}",
        f"-redis.addr=redis://{hostport(settings.connect_host, settings.redis_port)}",
    ]
    env = None if secrets is None else {**os.environ, "REDIS_PASSWORD": secrets.redis_password}
    spec = ProcessSpec("redis_exporter", argv, env=env) if _installed(REDIS_EXPORTER) else None
    component = _part(
        settings,
        "redis_exporter",
        spec,
        f"http://{backend} (loopback, behind redis_exporter_tls)",
        {"redis_exporter_backend_port": settings.redis_exporter_backend_port},
        _plain(f"http://{backend}/health"),
    )
    # Loopback whatever `host` says: only its TLS front is reachable from elsewhere.
    return dataclasses.replace(component, host="127.0.0.1", host_key="")


def _redis_front(settings: StackSettings, _: Secrets | None) -> Component:
    config = settings.layout.config_dir / FILES["redis_exporter_tls"]
    spec = (
        haproxy.haproxy_spec("redis_exporter_tls", config) if _installed(haproxy.HAPROXY) else None
    )
    return _part(
        settings,
        "redis_exporter_tls",
        spec,
        f"{base_url(settings, 'redis_exporter')}/metrics",
        {"redis_exporter_port": settings.redis_exporter_port},
        server_checks(settings, "redis_exporter", "/metrics"),
    )


def _postgres(settings: StackSettings, _: Secrets | None) -> Component:
    return _part(
        settings,
        "postgres",
        postgres.postgres_spec(settings),
        f"postgresql://{hostport(settings.connect_host, settings.postgres_port)}/"
        f"{postgres.DATABASE}",
        {"postgres_port": settings.postgres_port},
        (lambda: postgres.ready(settings), lambda: True),
    )


def _postgres_exporter(settings: StackSettings, secrets: Secrets | None) -> Component:
    argv = [
        POSTGRES_EXPORTER,
        f"--web.listen-address={hostport(settings.host, settings.postgres_exporter_port)}",
        f"--web.config.file={settings.layout.config_dir / 'web.yml'}",
    ]
    env = None
    if secrets is not None:
        where = hostport(settings.connect_host, settings.postgres_port)
        dsn = (
            f"postgresql://{postgres.ROLE}:{secrets.postgres_password}@{where}/"
            f"{postgres.DATABASE}?sslmode=disable"
        )
        env = {**os.environ, "DATA_SOURCE_NAME": dsn}
    spec = (
        ProcessSpec("postgres_exporter", argv, env=env) if _installed(POSTGRES_EXPORTER) else None
    )
    return _part(
        settings,
        "postgres_exporter",
        spec,
        f"{base_url(settings, 'postgres_exporter')}/metrics",
        {"postgres_exporter_port": settings.postgres_exporter_port},
        server_checks(settings, "postgres_exporter", "/"),
    )


def _plain(url: str) -> Checks:
    return http_checks(lambda timeout: httpx.Client(timeout=timeout), [url])


def _both(first: Checks, second: Checks) -> Checks:
    return (
        lambda: first[0]() and second[0](),
        lambda: first[1]() and second[1](),
    )
