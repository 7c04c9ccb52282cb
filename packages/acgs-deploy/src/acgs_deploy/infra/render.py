"""The infrastructure's configuration files, rendered beside the stack's (and validated with
them: ``haproxy -c`` in `acgs_deploy.configstore`):

- ``haproxy.cfg``: HAProxy on `haproxy_port` in front of the seven services, one backend each
  (``/<service>/...`` goes to that service as ``/...``; health checks on ``/health``), and its
  native Prometheus exporter on `haproxy_metrics_port` behind TLS and basic auth;
- ``haproxy-redis-exporter.cfg``: the TLS and auth front of redis_exporter (which has neither
  basic auth nor a web config in 1.45) on `redis_exporter_port`;
- ``redis.conf``.

All 0600 (the userlist holds a bcrypt hash, redis.conf the password).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from acgs_deploy import haproxy
from acgs_deploy.infra.redis import redis_conf
from acgs_deploy.render import hostport
from acgs_deploy.secrets import Secrets, write_private
from acgs_deploy.settings import StackSettings
from acgs_metrics.services import SERVICES

__all__ = ["FILES", "HAPROXY_CONFIG", "REDIS_CONFIG", "REDIS_FRONT_CONFIG", "write_configs"]

HAPROXY_CONFIG = "haproxy.cfg"
REDIS_FRONT_CONFIG = "haproxy-redis-exporter.cfg"
REDIS_CONFIG = "redis.conf"
# Part -> the file it reads (a change restarts it).
FILES = {
    "haproxy": HAPROXY_CONFIG,
    "redis_exporter_tls": REDIS_FRONT_CONFIG,
    "redis": REDIS_CONFIG,
}
USERLIST = "monitoring"
# HAProxy answers this itself (no backend): a probe that HAProxy serves on haproxy_port.
MONITOR_URI = "/haproxy/health"


def _users(secrets: Secrets) -> str:
    return haproxy.userlist(
        USERLIST, {secrets.prometheus_username: secrets.prometheus_password_hash}
    )


def haproxy_config(settings: StackSettings, secrets: Secrets, pem: Path) -> str:
    """HAProxy in front of the services, and its exporter."""
    listen = hostport(settings.host, settings.haproxy_port)
    front = [
        "frontend acgs",
        f"  bind {listen}",
        "  option forwardfor",
        f"  monitor-uri {MONITOR_URI}",
    ]
    backends = []
    for index, service in enumerate(SERVICES):
        name = f"acgs-{service.name}"
        prefix = f"/{service.name}"
        front.append(f"  use_backend {name} if {{ path {prefix} }} || {{ path_beg {prefix}/ }}")
        server = haproxy.Backend(
            service.name, hostport(settings.sim_host, settings.sim_base_port + index)
        )
        backends.append(
            haproxy.http_backend(
                name,
                [server],
                health_path="/health",
                extra=[f"http-request replace-path ^{prefix}/?(.*)$ /\\1"],
            )
        )
    # Anything else is answered by HAProxy itself (a backend without servers for it would
    # count as down, and HAProxyBackendDown would fire).
    names = " ".join(f"/{service.name}" for service in SERVICES)
    front[4:4] = [
        f"  acl service_path path {names}",
        f"  acl service_path path_beg {' '.join(f'{name}/' for name in names.split())}",
        '  http-request return status 404 content-type text/plain string "no such service: '
        'use /<service>/<path>" unless service_path',
    ]
    metrics = haproxy.metrics_frontend(
        "metrics", hostport(settings.host, settings.haproxy_metrics_port), pem, USERLIST
    )
    return "\n".join(
        [haproxy.global_section(), _users(secrets), metrics, "\n".join(front) + "\n", *backends]
    )


def redis_front_config(settings: StackSettings, secrets: Secrets, pem: Path) -> str:
    """TLS and basic auth in front of redis_exporter (on loopback)."""
    exporter = haproxy.Backend(
        "redis_exporter", hostport("127.0.0.1", settings.redis_exporter_backend_port)
    )
    return "\n".join(
        [
            haproxy.global_section(maxconn=256),
            _users(secrets),
            haproxy.tls_auth_front(
                "redis_exporter",
                hostport(settings.host, settings.redis_exporter_port),
                pem,
                USERLIST,
                "redis_exporter",
            ),
            haproxy.http_backend("redis_exporter", [exporter], health_path="/health"),
        ]
    )


def write_configs(
    settings: StackSettings, secrets: Secrets, out_dir: Path, parts: Collection[str]
) -> list[Path]:
    """The files of the parts that run, into `out_dir` (a staged configuration)."""
    pem = haproxy.ensure_pem_bundle(settings.layout)
    texts: dict[str, Callable[[], str]] = {
        "haproxy": lambda: haproxy_config(settings, secrets, pem),
        "redis_exporter_tls": lambda: redis_front_config(settings, secrets, pem),
        "redis": lambda: redis_conf(settings, secrets),
    }
    written = []
    for part, make in texts.items():
        if part in parts:
            path = out_dir / FILES[part]
            write_private(path, make())
            written.append(path)
    return written
