"""The processes of the local stack: for each component its command line, where it listens,
how to tell it is healthy and how to reload it. The local backend starts, reloads and stops
them; restore stops and starts the stateful ones around a swap.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from acgs_deploy.client import ComponentName, base_url
from acgs_deploy.commandlines import (
    alertmanager_command,
    node_exporter_command,
    prometheus_command,
)
from acgs_deploy.component import Component, plain_checks, server_checks
from acgs_deploy.infra import PARTS as INFRA_PARTS
from acgs_deploy.infra import STORES
from acgs_deploy.infra.parts import infra_components
from acgs_deploy.process import ProcessSpec
from acgs_deploy.render import grafana_environment
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_metrics.services import SERVICES

__all__ = ["DEMO_PARTS", "GRAFANA_HINT", "Component", "components"]

GRAFANA_HINT = (
    "Grafana is not packaged by Debian. Install the `grafana` package from "
    "Grafana's APT repository (apt.grafana.com) and deploy again, or use "
    "`invoke deploy --target compose`. Dashboards are still built into config/grafana/."
)
# Run only in demo mode (`deploy --demo`); the infrastructure's parts unless --no-infra.
DEMO_PARTS = ("webhook", "acgs-sim", *INFRA_PARTS)


def components(
    settings: StackSettings,
    *,
    demo: bool,
    secrets: Secrets | None = None,
    infra: Sequence[str] = (),
) -> list[Component]:
    """The local stack's components, in start order.

    ``secrets`` are needed only to start Grafana and the demo parts that take passwords from
    their environment; status and down pass none. ``infra``: the demo infrastructure's parts
    (`acgs_deploy.infra.PARTS`) in it, which acgs-sim is then told to use.
    """
    parts = [p for p in INFRA_PARTS if p in infra] if demo else []
    stores = [p for p in parts if p in STORES]
    demo_parts = []
    if demo:
        demo_parts = [
            _webhook(settings),
            *infra_components(settings, secrets, stores),
            _sim(settings, parts, secrets),
            *infra_components(settings, secrets, [p for p in parts if p not in STORES]),
        ]
    return [
        *demo_parts,
        _node_exporter(settings),
        _alertmanager(settings),
        _prometheus(settings),
        _grafana(settings, secrets),
    ]


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _listen(settings: StackSettings, port: int) -> str:
    return _hostport(settings.host, port)


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
    probe, answers = plain_checks([f"{url}/health"])
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
    )


def _sim(settings: StackSettings, infra: Sequence[str], secrets: Secrets | None) -> Component:
    """acgs-sim; with the infrastructure it uses Redis and PostgreSQL (credentials in its
    environment, never argv) and sends its traffic through HAProxy."""
    sim = _sim_command()
    ports = [settings.sim_base_port + index for index in range(len(SERVICES))]
    argv = [f"--host={settings.sim_host}", f"--base-port={settings.sim_base_port}"]
    connect = settings.connect_host
    env: dict[str, str] = {}
    if "redis" in infra:
        argv.append(f"--redis={_hostport(connect, settings.redis_port)}")
        env["ACGS_SIM_REDIS_PASSWORD"] = secrets.redis_password if secrets else ""
    if "postgres" in infra:
        argv += [f"--postgres={_hostport(connect, settings.postgres_port)}", "--postgres-db=acgs"]
        env["ACGS_SIM_POSTGRES_USER"] = "acgs"
        env["ACGS_SIM_POSTGRES_PASSWORD"] = secrets.postgres_password if secrets else ""
    if "haproxy" in infra:
        argv.append(f"--via=http://{_hostport(connect, settings.haproxy_port)}")
    probe, answers = plain_checks(f"http://{settings.sim_host}:{port}/health" for port in ports)
    spec = None
    if sim:
        spec = ProcessSpec("acgs-sim", [*sim, *argv], env={**os.environ, **env} if env else None)
    return Component(
        name="acgs-sim",
        url=f"http://{settings.sim_host}:{ports[0]}-{ports[-1]}",
        host=settings.sim_host,
        spec=spec,
        ports=ports,
        probe=probe,
        answers=answers,
        host_key="sim_host",
        port_key="sim_base_port",
        not_installed="acgs-sim is missing: run `uv sync --all-packages`",
    )


def _server(
    settings: StackSettings,
    name: ComponentName,
    spec: ProcessSpec | None,
    port: int,
    probe_path: str,
    *,
    reloads: bool = False,
    not_installed: str = "",
) -> Component:
    """A server of the stack: on `settings.host`, healthy when `probe_path` answers 200
    through TLS and basic auth; `reloads` on ``POST /-/reload``."""
    probe, answers = server_checks(settings, name, probe_path)
    return Component(
        name=name,
        url=base_url(settings, name),
        host=settings.host,
        spec=spec,
        ports=[port],
        probe=probe,
        answers=answers,
        host_key="host",
        port_key=f"{name}_port",
        reload_path="/-/reload" if reloads else None,
        not_installed=not_installed,
    )


def _node_exporter(settings: StackSettings) -> Component:
    argv = node_exporter_command(
        listen=_listen(settings, settings.node_exporter_port),
        web_config=settings.layout.config_dir / "web.yml",
    )
    spec = ProcessSpec("node_exporter", argv)
    return _server(settings, "node_exporter", spec, settings.node_exporter_port, "/")


def _alertmanager(settings: StackSettings) -> Component:
    live = settings.layout.config_dir
    argv = alertmanager_command(
        config=live / "alertmanager.yml",
        data=settings.layout.alertmanager_data,
        listen=_listen(settings, settings.alertmanager_port),
        web_config=live / "web.yml",
        maintenance_interval=settings.alertmanager_maintenance_interval,
        extra=[f"--web.external-url={base_url(settings, 'alertmanager')}/"],
    )
    spec = ProcessSpec("alertmanager", argv)
    return _server(
        settings, "alertmanager", spec, settings.alertmanager_port, "/-/ready", reloads=True
    )


def _prometheus(settings: StackSettings) -> Component:
    live = settings.layout.config_dir
    argv = prometheus_command(
        config=live / "prometheus.yml",
        data=settings.layout.prometheus_data,
        listen=_listen(settings, settings.prometheus_port),
        web_config=live / "web.yml",
        retention=settings.retention,
        extra=[f"--web.external-url={base_url(settings, 'prometheus')}/"],
    )
    spec = ProcessSpec("prometheus", argv)
    return _server(settings, "prometheus", spec, settings.prometheus_port, "/-/ready", reloads=True)


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
        settings, "grafana", spec, settings.grafana_port, "/api/health", not_installed=GRAFANA_HINT
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
        secrets, base_url(settings, "prometheus"), settings.layout.ca_cert.read_text()
    )
    return {**os.environ, **extra}


def _sim_command() -> list[str] | None:
    installed = Path(sys.executable).parent / "acgs-sim"
    if installed.is_file():
        return [str(installed)]
    found = shutil.which("acgs-sim")
    return [found] if found else None
