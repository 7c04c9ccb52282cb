"""The local target: deploy, status, reload and down for a stack of background processes.

``deploy`` is idempotent. It makes secrets and certificates once, renders and validates the
configuration, swaps it in only when it changed, then for each component: starts it if it is
not running (after checking its port is free), reloads it if its configuration changed, and
otherwise leaves it alone. It then waits until every component answers through TLS and auth.
``down`` stops only processes recorded in ``<state>/run`` whose command line still matches.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from acgs_deploy import binaries, configstore
from acgs_deploy.client import ComponentName as ServerName
from acgs_deploy.client import base_url, stack_client
from acgs_deploy.commandlines import alertmanager_command, prometheus_command
from acgs_deploy.process import ProcessManager, ProcessSpec
from acgs_deploy.render import grafana_environment, local_topology, render
from acgs_deploy.secrets import RECEIVER_KEYS, Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import CertificateInfo, ensure_certificates
from acgs_metrics.ports import ports_free
from acgs_metrics.services import SERVICES

__all__ = [
    "ComponentState",
    "DeployError",
    "DeployReport",
    "apply_config",
    "check_state_dir",
    "deploy",
    "down",
    "print_states",
    "reload",
    "status",
]

REQUIRED = [b for b in binaries.BINARIES if b.name != "docker-compose"]
GRAFANA_HINT = (
    "Grafana is not packaged by Debian. Install the `grafana` package from "
    "Grafana's APT repository (apt.grafana.com) and deploy again, or use "
    "`invoke deploy --target compose`. Dashboards are still built into config/grafana/."
)
MODE_FILE = "deploy.json"
LOCK_FILE = ".lock"


class DeployError(RuntimeError):
    """The stack could not be brought to the wanted state; the message says what to do."""


@dataclass(frozen=True)
class Component:
    name: str
    url: str
    spec: ProcessSpec | None  # None: not installed here
    ports: Sequence[int]
    probe: Callable[[], bool]
    reload_path: str | None = None  # POST here (through TLS and auth) to reload
    not_installed: str = ""


@dataclass
class ComponentState:
    name: str
    url: str
    state: str
    pid: int | None = None
    action: str = ""
    hint: str = ""


@dataclass
class DeployReport:
    components: list[ComponentState] = field(default_factory=list)
    config_changed: set[str] = field(default_factory=set)
    ca_cert: Path | None = None

    @property
    def actions(self) -> dict[str, str]:
        return {c.name: c.action for c in self.components}


# --- mode --------------------------------------------------------------------------------


def _read_mode(settings: StackSettings) -> dict[str, object]:
    try:
        data = json.loads((settings.state_dir / MODE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _demo_mode(settings: StackSettings, demo: bool | None) -> bool:
    if demo is not None:
        return demo
    return bool(_read_mode(settings).get("demo", False))


def _write_mode(settings: StackSettings, demo: bool) -> None:
    (settings.state_dir / MODE_FILE).write_text(json.dumps({"target": "local", "demo": demo}))


# --- components --------------------------------------------------------------------------


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


def _sim_command() -> list[str] | None:
    installed = Path(sys.executable).parent / "acgs-sim"
    if installed.is_file():
        return [str(installed)]
    found = shutil.which("acgs-sim")
    return [found] if found else None


def _probe_server(settings: StackSettings, server: ServerName, path: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with stack_client(settings, server, timeout=2.0) as client:
                return client.get(path).status_code == 200
        except (httpx.HTTPError, OSError):
            return False

    return probe


def _probe_plain(urls: Iterable[str]) -> Callable[[], bool]:
    wanted = list(urls)

    def probe() -> bool:
        try:
            with httpx.Client(timeout=2.0) as client:
                return all(client.get(url).status_code == 200 for url in wanted)
        except (httpx.HTTPError, OSError):
            return False

    return probe


def components(
    settings: StackSettings, *, demo: bool, secrets: Secrets | None = None
) -> list[Component]:
    """The local stack's components, in start order.

    ``secrets`` are needed only to start Grafana (its datasource reads them from the
    environment); status and down pass none.
    """
    layout = settings.layout
    live = layout.config_dir
    listen = settings.host
    if ":" in listen:
        listen = f"[{listen}]"
    found: list[Component] = []
    if demo:
        webhook = f"http://127.0.0.1:{settings.webhook_port}"
        found.append(
            Component(
                name="webhook",
                url=f"{webhook}/alerts",
                spec=ProcessSpec(
                    "webhook",
                    [
                        sys.executable,
                        "-m",
                        "acgs_deploy.webhook",
                        "--host=127.0.0.1",
                        f"--port={settings.webhook_port}",
                        f"--out={layout.webhook_log}",
                    ],
                ),
                ports=[settings.webhook_port],
                probe=_probe_plain([f"{webhook}/health"]),
            )
        )
        sim = _sim_command()
        ports = [settings.sim_base_port + index for index in range(len(SERVICES))]
        found.append(
            Component(
                name="acgs-sim",
                url=f"http://{settings.sim_host}:{ports[0]}-{ports[-1]}",
                spec=ProcessSpec(
                    "acgs-sim",
                    [
                        *sim,
                        f"--host={settings.sim_host}",
                        f"--base-port={settings.sim_base_port}",
                    ],
                )
                if sim
                else None,
                ports=ports,
                probe=_probe_plain(f"http://{settings.sim_host}:{port}/health" for port in ports),
                not_installed="acgs-sim is missing: run `uv sync --all-packages`",
            )
        )
    found.append(
        Component(
            name="node_exporter",
            url=base_url(settings, "node_exporter"),
            spec=ProcessSpec(
                "node_exporter",
                [
                    "prometheus-node-exporter",
                    f"--web.listen-address={listen}:{settings.node_exporter_port}",
                    f"--web.config.file={live / 'web.yml'}",
                ],
            ),
            ports=[settings.node_exporter_port],
            probe=_probe_server(settings, "node_exporter", "/"),
        )
    )
    found.append(
        Component(
            name="alertmanager",
            url=base_url(settings, "alertmanager"),
            spec=ProcessSpec(
                "alertmanager",
                alertmanager_command(
                    config=live / "alertmanager.yml",
                    data=layout.alertmanager_data,
                    listen=f"{listen}:{settings.alertmanager_port}",
                    web_config=live / "web.yml",
                    extra=[f"--web.external-url={base_url(settings, 'alertmanager')}/"],
                ),
            ),
            ports=[settings.alertmanager_port],
            probe=_probe_server(settings, "alertmanager", "/-/ready"),
            reload_path="/-/reload",
        )
    )
    found.append(
        Component(
            name="prometheus",
            url=base_url(settings, "prometheus"),
            spec=ProcessSpec(
                "prometheus",
                prometheus_command(
                    config=live / "prometheus.yml",
                    data=layout.prometheus_data,
                    listen=f"{listen}:{settings.prometheus_port}",
                    web_config=live / "web.yml",
                    retention=settings.retention,
                    extra=[f"--web.external-url={base_url(settings, 'prometheus')}/"],
                ),
            ),
            ports=[settings.prometheus_port],
            probe=_probe_server(settings, "prometheus", "/-/ready"),
            reload_path="/-/reload",
        )
    )
    grafana = _grafana_binary()
    found.append(
        Component(
            name="grafana",
            url=base_url(settings, "grafana"),
            spec=ProcessSpec(
                "grafana",
                [
                    *grafana,
                    f"--config={live / 'grafana' / 'grafana.ini'}",
                    f"--homepath={_grafana_home(grafana[0])}",
                ],
                env=_grafana_env(settings, secrets),
            )
            if grafana
            else None,
            ports=[settings.grafana_port],
            probe=_probe_server(settings, "grafana", "/api/health"),
            not_installed=GRAFANA_HINT,
        )
    )
    return found


def _grafana_env(settings: StackSettings, secrets: Secrets | None) -> dict[str, str] | None:
    if secrets is None:
        return None
    extra = grafana_environment(
        secrets, base_url(settings, "prometheus"), settings.layout.ca_cert.read_text()
    )
    return {**os.environ, **extra}


# --- preflight ---------------------------------------------------------------------------


def preflight(settings: StackSettings) -> None:
    """Before anything starts: binaries, write access, disk space, distinct ports."""
    try:
        binaries.ensure_binaries(REQUIRED)
    except binaries.MissingBinaries as error:
        raise DeployError(str(error)) from None
    check_state_dir(settings)
    by_port: dict[int, list[str]] = {}
    for name, port in settings.ports().items():
        by_port.setdefault(port, []).append(name)
    clashes = {port: names for port, names in by_port.items() if len(names) > 1}
    if clashes:
        text = "; ".join(f"{port}: {', '.join(names)}" for port, names in sorted(clashes.items()))
        raise DeployError(f"two components share a port ({text}): give each its own port")


def check_state_dir(settings: StackSettings) -> None:
    """The state directory can be made and written, with enough free disk (both targets)."""
    state = settings.state_dir
    try:
        settings.layout.make()
        with tempfile.NamedTemporaryFile(dir=state, prefix=".write-test-"):
            pass
    except OSError as error:
        raise _unwritable(state, error) from None
    free_mb = shutil.disk_usage(state).free // (1 << 20)
    if free_mb < settings.min_free_disk_mb:
        raise DeployError(
            f"only {free_mb} MiB free under {state}; the stack wants at least "
            f"{settings.min_free_disk_mb} MiB (min_free_disk_mb). Free some space or choose "
            "another --state-dir."
        )


def _unwritable(state: Path, error: OSError) -> DeployError:
    blocker = next((p for p in (state, *state.parents) if p.exists()), state)
    if not blocker.is_dir():
        why = f"{blocker} is a file, not a directory"
    else:
        why = error.strerror or str(error)
    return DeployError(
        f"cannot write to the state directory {state}: {why}. Choose a writable one with "
        "--state-dir or ACGS_STATE_DIR, or fix its permissions."
    )


def _check_ports_free(settings: StackSettings, starting: Sequence[Component]) -> None:
    busy = []
    for component in starting:
        host = settings.sim_host if component.name == "acgs-sim" else settings.host
        if component.name == "webhook":
            host = "127.0.0.1"
        busy += [
            f"{component.name} port {port} on {host}"
            for port in component.ports
            if not ports_free([port], host)
        ]
    if busy:
        raise DeployError(
            "ports in use by another program: "
            + "; ".join(busy)
            + ". Stop that program or choose other ports: ACGS_PROMETHEUS_PORT=... (one "
            "variable per port, see configs/stack.example.yml) or the same keys in a stack file."
        )


# --- configuration -----------------------------------------------------------------------


def _render_and_apply(
    settings: StackSettings, secrets: Secrets, certs: CertificateInfo, *, demo: bool
) -> set[str]:
    layout = settings.layout
    staged = configstore.staging_dir(layout)
    try:
        render(
            settings,
            secrets,
            local_topology(settings, demo=demo),
            staged,
        )
        configstore.validate(staged, settings.rules_dir)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return configstore.apply(staged, layout)


def _prepare(settings: StackSettings, demo: bool) -> tuple[Secrets, CertificateInfo, set[str]]:
    receivers = {name: getattr(settings, name) for name in RECEIVER_KEYS}
    secrets, _ = Secrets.ensure(settings.state_dir, receivers)
    certs = ensure_certificates(settings)
    changed = _render_and_apply(settings, secrets, certs, demo=demo)
    return secrets, certs, changed


def apply_config(settings: StackSettings) -> set[str]:
    """Render, validate and swap in the configuration as deploy and reload do, but start or
    reload nothing; returns what changed. A restore calls it once monitoring.env and certs/
    are back, so the files name this stack's paths and ports, never the backed-up stack's."""
    return _prepare(settings, _demo_mode(settings, None))[2]


# --- actions -----------------------------------------------------------------------------


def _manager(settings: StackSettings) -> ProcessManager:
    return ProcessManager(settings.layout.run_dir, settings.layout.logs_dir)


def _reload(settings: StackSettings, component: Component) -> None:
    assert component.reload_path is not None
    server: ServerName = "prometheus" if component.name == "prometheus" else "alertmanager"
    try:
        with stack_client(settings, server, timeout=30.0) as client:
            response = client.post(component.reload_path)
    except httpx.HTTPError as error:
        raise DeployError(f"{component.name}: reload request failed: {error}") from None
    if response.status_code != 200:
        raise DeployError(
            f"{component.name} refused the reload ({response.status_code}): "
            f"{response.text.strip()}; see {_manager(settings).log_file(component.name)}"
        )


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n    ".join(text[-lines:])


def _wait_healthy(
    settings: StackSettings, wanted: Sequence[Component], console: Console
) -> dict[str, str]:
    """Poll until every component is healthy; returns {name: why} for those that are not."""
    manager = _manager(settings)
    pending = {c.name: c for c in wanted}
    failed: dict[str, str] = {}
    deadline = time.monotonic() + settings.startup_timeout_s
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks = {name: progress.add_task(f"{name}: starting", total=1) for name in pending}
        while pending and time.monotonic() < deadline:
            for name, component in list(pending.items()):
                if component.probe():
                    progress.update(tasks[name], completed=1, description=f"{name}: healthy")
                    del pending[name]
                elif manager.running(name) is None:
                    progress.update(tasks[name], completed=1, description=f"{name}: exited")
                    failed[name] = "exited"
                    del pending[name]
            if pending:
                time.sleep(0.1)
    for name in pending:
        failed[name] = f"not healthy after {settings.startup_timeout_s:.0f}s"
    return failed


@contextlib.contextmanager
def _exclusive(settings: StackSettings) -> Iterator[None]:
    """One deploy, reload or down at a time per state directory."""
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        handle = (settings.state_dir / LOCK_FILE).open("a")
    except OSError as error:
        raise _unwritable(settings.state_dir, error) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeployError(
                f"another deploy, reload or down is running on {settings.state_dir}: "
                "wait for it to finish, then run this again"
            ) from None
        yield


def deploy(
    settings: StackSettings, *, demo: bool | None = None, console: Console | None = None
) -> DeployReport:
    """Bring the local stack to the wanted state; see the module docstring."""
    with _exclusive(settings):
        return _deploy(settings, demo, console)


def _deploy(settings: StackSettings, demo: bool | None, console: Console | None) -> DeployReport:
    console = console or Console(stderr=True)
    preflight(settings)
    demo = _demo_mode(settings, demo)
    manager = _manager(settings)
    # Plan before changing anything: what must start, and are its ports free?
    planned = components(settings, demo=demo)
    # Running with another command line (a port, path or retention changed): restart.
    outdated = {
        c.name
        for c in planned
        if c.spec is not None
        and manager.running(c.name) is not None
        and manager.recorded_argv(c.name) != list(c.spec.argv)
    }
    _check_ports_free(
        settings,
        [c for c in planned if c.spec is not None and manager.running(c.name) is None],
    )
    secrets, certs, changed = _prepare(settings, demo)
    _write_mode(settings, demo)
    wanted = components(settings, demo=demo, secrets=secrets)
    reloads = configstore.components_to_reload(changed)
    report = DeployReport(config_changed=changed, ca_cert=certs.ca_cert)
    # Demo parts left from a demo deploy when this one is not a demo.
    names = {c.name for c in wanted}
    for leftover in ("webhook", "acgs-sim"):
        if leftover not in names:
            manager.stop(leftover)
    for name in outdated:
        manager.stop(name)
    for component in wanted:
        state = ComponentState(component.name, component.url, "")
        report.components.append(state)
        if component.spec is None:
            state.state, state.action = "not installed", "skipped"
            state.hint = component.not_installed
            continue
        pid = manager.running(component.name)
        if pid is None:
            state.pid = manager.start(component.spec)
            state.action = "restarted" if component.name in outdated else "started"
        elif component.name == "grafana" and (reloads["grafana"] or certs.changed):
            manager.stop(component.name)
            state.pid = manager.start(component.spec)
            state.action = "restarted"
        elif component.reload_path and reloads.get(component.name):
            state.pid, state.action = pid, "reload"
        else:
            state.pid, state.action = pid, "unchanged"

    startable = [c for c in wanted if c.spec is not None]
    failed = _wait_healthy(settings, startable, console)
    for component in wanted:
        state = next(s for s in report.components if s.name == component.name)
        if state.action == "reload" and component.name not in failed:
            _reload(settings, component)
            state.action = "reloaded"
    for state in report.components:
        if state.action != "skipped":
            state.state = "unhealthy" if state.name in failed else "healthy"
    if failed:
        details = "\n".join(
            f"  {name}: {why}; last log lines ({manager.log_file(name)}):\n"
            f"    {_log_tail(manager.log_file(name))}"
            for name, why in sorted(failed.items())
        )
        raise DeployError(f"components did not become healthy:\n{details}")
    return report


def reload(settings: StackSettings, console: Console | None = None) -> DeployReport:
    """Render and validate the configuration, apply it and reload what changed.

    A configuration that fails a check is refused with the file and line; the running stack
    keeps its previous configuration.
    """
    with _exclusive(settings):
        return _reload_all(settings)


def _reload_all(settings: StackSettings) -> DeployReport:
    manager = _manager(settings)
    if manager.running("prometheus") is None:
        raise DeployError(
            f"Prometheus is not running for {settings.state_dir}: run `invoke deploy` first"
        )
    demo = _demo_mode(settings, None)
    secrets, certs, changed = _prepare(settings, demo)
    reloads = configstore.components_to_reload(changed)
    report = DeployReport(config_changed=changed, ca_cert=certs.ca_cert)
    for component in components(settings, demo=demo, secrets=secrets):
        if manager.running(component.name) is None:
            continue
        action = "unchanged"
        if component.reload_path and reloads.get(component.name):
            _reload(settings, component)
            action = "reloaded"
        elif component.name == "grafana" and reloads["grafana"] and component.spec:
            manager.stop(component.name)
            manager.start(component.spec)
            action = "restarted"
        report.components.append(
            ComponentState(component.name, component.url, "running", action=action)
        )
    return report


def status(settings: StackSettings) -> list[ComponentState]:
    """Each component: healthy, unhealthy, stopped or not installed."""
    manager = _manager(settings)
    states = []
    for component in components(settings, demo=_demo_mode(settings, None)):
        pid = manager.running(component.name)
        if component.spec is None:
            state = "not installed"
        elif pid is None:
            state = "stopped"
        else:
            state = "healthy" if component.probe() else "unhealthy"
        states.append(
            ComponentState(
                component.name,
                component.url,
                state,
                pid=pid,
                hint=component.not_installed if component.spec is None else "",
            )
        )
    return states


def down(settings: StackSettings) -> list[str]:
    """Stop every process this state directory started (newest first); returns their names."""
    if not settings.state_dir.is_dir():
        return []
    with _exclusive(settings):
        return _down(settings)


def _down(settings: StackSettings) -> list[str]:
    manager = _manager(settings)
    order = [c.name for c in components(settings, demo=True)]
    recorded = manager.recorded()
    ordered = [n for n in reversed(order) if n in recorded]
    ordered += [n for n in recorded if n not in ordered]
    return [name for name in ordered if manager.stop(name)]


def print_states(console: Console, states: Sequence[ComponentState], *, title: str) -> None:
    table = Table(title=title)
    table.add_column("component")
    table.add_column("URL")
    table.add_column("state")
    show_action = any(s.action for s in states)
    if show_action:
        table.add_column("action")
    for state in states:
        colour = {"healthy": "green", "unhealthy": "red", "stopped": "yellow"}.get(
            state.state, "dim"
        )
        # Names and URLs as they are: an IPv6 URL or a path may hold brackets.
        row = [escape(state.name), escape(state.url), f"[{colour}]{escape(state.state)}[/{colour}]"]
        if show_action:
            row.append(state.action)
        table.add_row(*row)
    console.print(table)
    for state in states:
        if state.hint:
            console.print(f"{state.name}: {state.hint}", soft_wrap=True, markup=False)
