"""The processes of the local stack: for each component its command line, where it listens,
how to tell it is healthy and how to reload it. The local backend starts, reloads and stops
them; restore stops and starts the stateful ones around a swap.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from acgs_deploy.client import ComponentName, base_url, stack_client
from acgs_deploy.commandlines import (
    alertmanager_command,
    node_exporter_command,
    prometheus_command,
)
from acgs_deploy.preflight import Listener
from acgs_deploy.process import ProcessSpec
from acgs_deploy.render import grafana_environment
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_metrics.services import SERVICE_NAMES, instance_port

__all__ = ["DEMO_PARTS", "GRAFANA_HINT", "Component", "components"]

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
    not_installed: str = ""

    def listeners(self, pid: int | None) -> list[Listener]:
        """Where it listens, for the preflight; `pid` is its running process, if any."""
        return [
            Listener(self.name, self.host_key, self.host, self.port_key, port, pid)
            for port in self.ports
        ]


def components(
    settings: StackSettings, *, demo: bool, secrets: Secrets | None = None
) -> list[Component]:
    """The local stack's components, in start order.

    ``secrets`` are needed only to start Grafana (its datasource reads them from the
    environment); status and down pass none.
    """
    demo_parts = [_webhook(settings), _sim(settings)] if demo else []
    return [
        *demo_parts,
        _node_exporter(settings),
        _alertmanager(settings),
        _prometheus(settings),
        _grafana(settings, secrets),
    ]


def _listen(settings: StackSettings, port: int) -> str:
    host = settings.host
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
    )


def _sim(settings: StackSettings) -> Component:
    sim = _sim_command()
    ports = [
        instance_port(name, settings.sim_base_port, replica)
        for replica in range(settings.sim_replicas)
        for name in SERVICE_NAMES
    ]
    argv = [f"--host={settings.sim_host}", f"--base-port={settings.sim_base_port}"]
    if settings.sim_replicas > 1:
        argv.append(f"--replicas={settings.sim_replicas}")
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
    probe, answers = _server_checks(settings, name, probe_path)
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
    settings: StackSettings, server: ComponentName, path: str
) -> tuple[Callable[[], bool], Callable[[], bool]]:
    return _checks(lambda timeout: stack_client(settings, server, timeout=timeout), [path])


def _plain_checks(urls: Iterable[str]) -> tuple[Callable[[], bool], Callable[[], bool]]:
    return _checks(lambda timeout: httpx.Client(timeout=timeout), urls)
