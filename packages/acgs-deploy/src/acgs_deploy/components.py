"""The processes of the local stack: for each component its command line, where it listens,
how to tell it is healthy and how to reload it. The local backend starts, reloads and stops
them; restore stops and starts the stateful ones around a swap.
"""

from __future__ import annotations

import math
import os
import secrets as secrets_module
import shutil
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from acgs_deploy import haproxy
from acgs_deploy.client import ComponentName, base_url, port_url, stack_client, url_endpoint
from acgs_deploy.commandlines import (
    Cluster,
    alertmanager_command,
    node_exporter_command,
    prometheus_command,
    victoriametrics_command,
)
from acgs_deploy.instances import (
    Instance,
    alertmanager_instances,
    prometheus_instances,
    query_instance,
    victoriametrics_instance,
)
from acgs_deploy.preflight import Listener
from acgs_deploy.process import ProcessSpec
from acgs_deploy.render import grafana_environment
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_metrics.services import SERVICES
from acgs_promql.durations import parse_duration

__all__ = [
    "DEMO_PARTS",
    "GRAFANA_HINT",
    "Component",
    "components",
    "datasource_url",
    "dedup_interval",
    "victoriametrics_retention",
]

GRAFANA_HINT = (
    "Grafana is not packaged by Debian. Install the `grafana` package from "
    "Grafana's APT repository (apt.grafana.com) and deploy again, or use "
    "`invoke deploy --target compose`. Dashboards are still built into config/grafana/."
)
# Run only in demo mode (`deploy --demo`).
DEMO_PARTS = ("webhook", "acgs-sim")


@dataclass(frozen=True)
class Component:
    name: str
    url: str
    host: str  # the address its ports are bound on
    spec: ProcessSpec | None  # None: not installed here
    ports: Sequence[int]
    probe: Callable[[], bool]  # healthy: answers 200
    answers: Callable[[], bool]  # False: sends no answer at all in time (frozen, hung)
    # The stack-file keys of its address and port(s), for messages ("" when fixed).
    host_key: str
    port_key: str
    reload_path: str | None = None  # POST here (through TLS and auth) to reload
    # Reloaded by SIGUSR2 to its process (an HAProxy master: new workers take the sockets over,
    # the old ones finish their requests), not over HTTP.
    reload_signal: bool = False
    not_installed: str = ""
    role: str = ""  # what it is in the topology ("prometheus replica 1"), for status
    # The stack-file key of each port when they differ (an Alertmanager peer's gossip port).
    port_keys: Sequence[str] = ()
    # The files (and directories, ending in "/") of the configuration it reads: when one
    # changed it is reloaded (`reload_path`, `reload_signal`), or else restarted.
    config_files: Sequence[str] = ()
    # It reads the certificates only when it starts (or reloads, with `reload_signal`).
    restarts_on_new_certificates: bool = False

    @property
    def reloads(self) -> bool:
        """Whether it can take a new configuration without a restart."""
        return self.reload_path is not None or self.reload_signal

    def listeners(self, pid: int | None) -> list[Listener]:
        """Where it listens, for the preflight; `pid` is its running process, if any."""
        keys = self.port_keys or [self.port_key] * len(self.ports)
        return [
            Listener(self.name, self.host_key, self.host, key, port, pid)
            for port, key in zip(self.ports, keys, strict=True)
        ]

    def config_changed(self, changed: Collection[str]) -> bool:
        """Whether a file it reads is among `changed` (paths in the config directory)."""
        return any(
            name == wanted or (wanted.endswith("/") and name.startswith(wanted))
            for name in changed
            for wanted in self.config_files
        )


def components(
    settings: StackSettings, *, demo: bool, secrets: Secrets | None = None
) -> list[Component]:
    """The local stack's components, in start order.

    ``secrets`` are needed only to start Grafana (its datasource reads them from the
    environment); status and down pass none.
    """
    demo_parts = [_webhook(settings), _sim(settings)] if demo else []
    store = victoriametrics_instance(settings)
    query = query_instance(settings)
    return [
        *demo_parts,
        _node_exporter(settings),
        *(_alertmanager(settings, peer) for peer in alertmanager_instances(settings)),
        *([_victoriametrics(settings, store, secrets)] if store else []),
        *(_prometheus(settings, server) for server in prometheus_instances(settings)),
        *([_query(settings, query)] if query else []),
        _grafana(settings, secrets),
    ]


def _listen(settings: StackSettings, port: int) -> str:
    return _hostport(settings.host, port)


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _webhook(settings: StackSettings) -> Component:
    url = f"http://127.0.0.1:{settings.webhook_port}"
    argv = [
        sys.executable,
        "-m",
        "acgs_deploy.webhook",
        "--host=127.0.0.1",
        f"--port={settings.webhook_port}",
        f"--out={settings.layout.webhook_log}",
    ]
    probe, answers = _plain_checks([f"{url}/health"])
    return Component(
        name="webhook",
        url=f"{url}/alerts",
        host="127.0.0.1",
        spec=ProcessSpec("webhook", argv),
        ports=[settings.webhook_port],
        probe=probe,
        answers=answers,
        host_key="",
        port_key="webhook_port",
        role="demo alert receiver",
    )


def _sim(settings: StackSettings) -> Component:
    sim = _sim_command()
    ports = [settings.sim_base_port + index for index in range(len(SERVICES))]
    argv = [f"--host={settings.sim_host}", f"--base-port={settings.sim_base_port}"]
    probe, answers = _plain_checks(f"http://{settings.sim_host}:{port}/health" for port in ports)
    return Component(
        name="acgs-sim",
        url=f"http://{settings.sim_host}:{ports[0]}-{ports[-1]}",
        host=settings.sim_host,
        spec=ProcessSpec("acgs-sim", [*sim, *argv]) if sim else None,
        ports=ports,
        probe=probe,
        answers=answers,
        host_key="sim_host",
        port_key="sim_base_port",
        role="demo services",
        not_installed="acgs-sim is missing: run `uv sync --all-packages`",
    )


def _server(
    settings: StackSettings,
    name: str,
    spec: ProcessSpec | None,
    port: int,
    probe_path: str,
    *,
    port_key: str | None = None,
    **fields: Any,
) -> Component:
    """A server of the stack on `settings.host` and `port`, healthy when `probe_path` answers
    200 through TLS and basic auth; `fields` are the Component's other fields."""
    url = port_url(settings, port)
    probe, answers = _server_checks(settings, name, url, probe_path)
    return Component(
        name=name,
        url=url,
        host=settings.host,
        spec=spec,
        ports=fields.pop("ports", [port]),
        probe=probe,
        answers=answers,
        host_key="host",
        port_key=port_key or f"{name}_port",
        **fields,
    )


def _node_exporter(settings: StackSettings) -> Component:
    argv = node_exporter_command(
        listen=_listen(settings, settings.node_exporter_port),
        web_config=settings.layout.config_dir / "web.yml",
    )
    spec = ProcessSpec("node_exporter", argv)
    return _server(
        settings, "node_exporter", spec, settings.node_exporter_port, "/", role="exporter"
    )


def _alertmanager(settings: StackSettings, peer: Instance) -> Component:
    live = settings.layout.config_dir
    cluster = None
    ports, keys = [peer.port], [peer.port_key]
    if peer.cluster_port is not None:
        # Gossip stays on loopback (connect_host) whatever `host` is: peers on one machine.
        others = alertmanager_instances(settings)
        cluster = Cluster(
            listen=_hostport(settings.connect_host, peer.cluster_port),
            peers=[
                _hostport(settings.connect_host, other.cluster_port)
                for other in others
                if other.cluster_port is not None and other.name != peer.name
            ],
            tls_config=live / "alertmanager-cluster.yml",
        )
        ports, keys = [*ports, peer.cluster_port], [*keys, "alertmanager_cluster_base_port"]
    argv = alertmanager_command(
        config=live / peer.config_file,
        data=settings.layout.data_dir / peer.name,
        listen=_listen(settings, peer.port),
        web_config=live / "web.yml",
        maintenance_interval=settings.alertmanager_maintenance_interval,
        cluster=cluster,
        extra=[f"--web.external-url={port_url(settings, peer.port)}/"],
    )
    return _server(
        settings,
        peer.name,
        ProcessSpec(peer.name, argv),
        peer.port,
        "/-/ready",
        port_key=peer.port_key,
        ports=ports,
        port_keys=keys,
        reload_path="/-/reload",
        role=peer.description,
        config_files=[peer.config_file],
    )


def _prometheus(settings: StackSettings, server: Instance) -> Component:
    live = settings.layout.config_dir
    argv = prometheus_command(
        config=live / server.config_file,
        data=settings.layout.data_dir / server.name,
        listen=_listen(settings, server.port),
        web_config=live / "web.yml",
        retention=settings.retention,
        extra=[f"--web.external-url={port_url(settings, server.port)}/"],
    )
    return _server(
        settings,
        server.name,
        ProcessSpec(server.name, argv),
        server.port,
        "/-/ready",
        port_key=server.port_key,
        reload_path="/-/reload",
        role=server.description,
        config_files=[server.config_file, "rules/"],
    )


# Environment variables VictoriaMetrics reads its secret flags from (-envflag.prefix).
VM_ENV_PREFIX = "ACGS_VM_"


def _victoriametrics(
    settings: StackSettings, store: Instance, secrets: Secrets | None
) -> Component:
    layout = settings.layout
    argv = victoriametrics_command(
        data=layout.data_dir / store.name,
        listen=_listen(settings, store.port),
        retention=victoriametrics_retention(settings.retention),
        dedup_interval=dedup_interval(settings),
        cert_file=layout.server_cert,
        key_file=layout.server_key,
        env_prefix=VM_ENV_PREFIX,
    )
    env = None
    if secrets is not None:
        # 1.79 serves /debug/pprof and /flags without basic auth unless given an auth key:
        # a random one nobody is told closes them.
        closed = secrets_module.token_urlsafe(24)
        env = {
            **os.environ,
            f"{VM_ENV_PREFIX}httpAuth_username": secrets.prometheus_username,
            f"{VM_ENV_PREFIX}httpAuth_password": secrets.prometheus_password,
            f"{VM_ENV_PREFIX}pprofAuthKey": closed,
            f"{VM_ENV_PREFIX}flagsAuthKey": closed,
        }
    return _server(
        settings,
        store.name,
        ProcessSpec(store.name, argv, env=env),
        store.port,
        # Needs basic auth (its /health does not): healthy means the credentials work too.
        "/api/v1/status/buildinfo",
        role=store.description,
        restarts_on_new_certificates=True,
    )


def victoriametrics_retention(retention: str) -> str:
    """Prometheus' retention in VictoriaMetrics' syntax (whole days, else hours; a bare number
    would be months there)."""
    seconds = parse_duration(retention)
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    return f"{math.ceil(seconds / 3600)}h"


def dedup_interval(settings: StackSettings) -> str:
    """-dedup.minScrapeInterval: the shortest scrape interval of the configuration, so the
    replicas' copies of every series collapse to one and no job is thinned below its own
    interval (a longer one would drop samples of the faster ACGS jobs)."""
    return min(settings.scrape_interval, settings.acgs_scrape_interval, key=parse_duration)


def _query(settings: StackSettings, query: Instance) -> Component:
    config = settings.layout.config_dir / query.config_file
    return _server(
        settings,
        query.name,
        haproxy.haproxy_spec(query.name, config),
        query.port,
        "/api/v1/query?query=vector(1)",
        role=query.description,
        config_files=[query.config_file],
        reload_signal=True,
        restarts_on_new_certificates=True,
    )


def _grafana(settings: StackSettings, secrets: Secrets | None) -> Component:
    grafana = _grafana_binary()
    spec = None
    if grafana:
        argv = [
            *grafana,
            f"--config={settings.layout.config_dir / 'grafana' / 'grafana.ini'}",
            f"--homepath={_grafana_home(grafana[0])}",
        ]
        spec = ProcessSpec("grafana", argv, env=_grafana_env(settings, secrets))
    return _server(
        settings,
        "grafana",
        spec,
        settings.grafana_port,
        "/api/health",
        not_installed=GRAFANA_HINT,
        role="dashboards",
        config_files=["grafana/"],
        restarts_on_new_certificates=True,
    )


def _grafana_binary() -> list[str] | None:
    server = shutil.which("grafana-server")
    if server:
        return [server]
    unified = shutil.which("grafana")
    return [unified, "server"] if unified else None


def _grafana_home(binary: str) -> str:
    for candidate in ("/usr/share/grafana", str(Path(binary).resolve().parents[1])):
        if Path(candidate, "conf", "defaults.ini").is_file():
            return candidate
    return "/usr/share/grafana"


def _grafana_env(settings: StackSettings, secrets: Secrets | None) -> dict[str, str] | None:
    if secrets is None:
        return None
    extra = grafana_environment(
        secrets, datasource_url(settings), settings.layout.ca_cert.read_text()
    )
    return {**os.environ, **extra}


def datasource_url(settings: StackSettings) -> str:
    """Where Grafana's datasource queries: the query endpoint with topology ha (the store, else
    a replica), else the one Prometheus."""
    source: ComponentName = "query" if query_instance(settings) else "prometheus"
    return base_url(settings, source)


def _sim_command() -> list[str] | None:
    installed = Path(sys.executable).parent / "acgs-sim"
    if installed.is_file():
        return [str(installed)]
    found = shutil.which("acgs-sim")
    return [found] if found else None


# Seconds a health probe waits for an answer; a server that sends none is "unresponsive".
PROBE_TIMEOUT_S = 2.0


def _checks(
    open_client: Callable[[float], httpx.Client], urls: Iterable[str]
) -> tuple[Callable[[], bool], Callable[[], bool]]:
    """(probe, answers) over `urls`: probe is True when every one answers 200; answers is
    False only when the first one sends nothing in time (a frozen or hung process; refused
    connections and error statuses are answers)."""
    wanted = list(urls)

    def probe() -> bool:
        try:
            with open_client(PROBE_TIMEOUT_S) as client:
                return all(client.get(url).status_code == 200 for url in wanted)
        except (httpx.HTTPError, OSError):
            return False

    def answers() -> bool:
        try:
            with open_client(PROBE_TIMEOUT_S) as client:
                client.get(wanted[0])
        except httpx.TimeoutException:
            return False
        except (httpx.HTTPError, OSError):
            pass
        return True

    return probe, answers


def _server_checks(
    settings: StackSettings, name: str, url: str, path: str
) -> tuple[Callable[[], bool], Callable[[], bool]]:
    # Grafana: its admin account; every other server: the Prometheus user.
    if name == "grafana":
        return _checks(lambda timeout: stack_client(settings, "grafana", timeout=timeout), [path])
    return _checks(lambda timeout: url_endpoint(settings, url).client(timeout), [path])


def _plain_checks(urls: Iterable[str]) -> tuple[Callable[[], bool], Callable[[], bool]]:
    return _checks(lambda timeout: httpx.Client(timeout=timeout), urls)
