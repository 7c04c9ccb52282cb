"""The local target: the stack as background processes on this machine
(`acgs_deploy.components`), managed through pid files (`acgs_deploy.process`).

A deploy is idempotent. Secrets and certificates are made once; the configuration is swapped
in only when it changed; then each component is started if it is not running (its ports were
checked free in the preflight), restarted if its command line changed, reloaded if its
configuration changed, and otherwise left alone; then the deploy waits until every component
answers through TLS and auth. `down` stops only processes recorded in ``<state>/run`` whose
command line still matches.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import httpx
from rich.console import Console

from acgs_deploy import configstore, mode, preflight
from acgs_deploy.backends.base import (
    ComponentState,
    DeployOptions,
    Rendered,
    Report,
    secrets_and_certificates,
    validate_or_discard,
)
from acgs_deploy.client import ComponentName, stack_client
from acgs_deploy.components import DEMO_PARTS, Component, components
from acgs_deploy.errors import DeployError
from acgs_deploy.lock import exclusive
from acgs_deploy.process import ProcessManager
from acgs_deploy.render import local_topology, render
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.wait import wait_healthy

__all__ = ["REQUIRED_BINARIES", "LocalBackend"]

REQUIRED_BINARIES = (
    "prometheus",
    "promtool",
    "prometheus-alertmanager",
    "amtool",
    "prometheus-node-exporter",
)


class LocalBackend:
    """The local processes of the stack in `settings`; `console` shows the wait for health."""

    def __init__(
        self,
        settings: StackSettings,
        options: DeployOptions | None = None,
        console: Console | None = None,
    ) -> None:
        self.settings = settings
        demo = (options or DeployOptions()).demo
        self.demo = mode.last_demo(settings) if demo is None else demo
        self.console = console
        self.manager = ProcessManager(settings.layout.run_dir, settings.layout.logs_dir)

    # --- the backend interface -----------------------------------------------------------

    def render(self) -> Rendered:
        """Preflight (binaries, state directory, ports), then the configuration in staging."""
        settings = self.settings
        preflight.require_binaries(REQUIRED_BINARIES)
        preflight.check_state_dir(settings)
        preflight.check_distinct_ports(settings)
        starting = [
            c
            for c in components(settings, demo=self.demo)
            if c.spec is not None and self.manager.running(c.name) is None
        ]
        preflight.check_ports_free([(c.name, c.host, port) for c in starting for port in c.ports])
        return self._render_config()

    def validate(self, rendered: Rendered) -> None:
        configstore.validate(rendered.config, self.settings.rules_dir)

    def apply(self, rendered: Rendered) -> Report:
        """Swap the configuration in, then start, restart or reload each component and wait."""
        changed = configstore.apply(rendered.staging, self.settings.layout)
        mode.remember(self.settings, target="local", demo=self.demo)
        wanted = components(self.settings, demo=self.demo, secrets=self._secrets())
        states = self._start_or_reload(wanted, changed, rendered.certs_changed)
        self._finish(wanted, states)
        return Report(components=states, config_changed=changed)

    def status(self) -> Report:
        """Each component: healthy, unhealthy, stopped or not installed."""
        states = []
        for component in components(self.settings, demo=self.demo):
            pid = self.manager.running(component.name)
            if component.spec is None:
                state = "not installed"
            elif pid is None:
                state = "stopped"
            else:
                state = "healthy" if component.probe() else "unhealthy"
            hint = component.not_installed if component.spec is None else ""
            states.append(ComponentState(component.name, component.url, state, pid, hint=hint))
        return Report(components=states)

    def down(self) -> Report:
        """Stop every process this state directory started, the last started first."""
        if not self.settings.state_dir.is_dir():
            return Report()
        known = {c.name: c for c in components(self.settings, demo=True)}
        with exclusive(self.settings):
            recorded = self.manager.recorded()
            ordered = [n for n in reversed(known) if n in recorded]
            ordered += [n for n in recorded if n not in ordered]
            stopped = [name for name in ordered if self.manager.stop(name)]
        return Report(
            components=[
                ComponentState(name, known[name].url if name in known else "", "stopped")
                for name in stopped
            ]
        )

    # --- beyond the interface: reload, and what restore needs ---------------------------

    def reload(self) -> Report:
        """Render and validate the configuration, apply it and reload what changed.

        A configuration that fails a check is refused with the file and line; the running
        stack keeps its previous configuration. Stopped components stay stopped.
        """
        with exclusive(self.settings):
            if self.manager.running("prometheus") is None:
                raise DeployError(
                    f"Prometheus is not running for {self.settings.state_dir}: "
                    "run `invoke deploy` first"
                )
            changed = self.configure()
            reloads = configstore.components_to_reload(changed)
            report = Report(config_changed=changed)
            for component in components(self.settings, demo=self.demo, secrets=self._secrets()):
                if self.manager.running(component.name) is None:
                    continue
                action = "unchanged"
                if component.reload_path and reloads.get(component.name):
                    self._reload(component)
                    action = "reloaded"
                elif component.name == "grafana" and reloads["grafana"] and component.spec:
                    self.manager.stop(component.name)
                    self.manager.start(component.spec)
                    action = "restarted"
                report.components.append(
                    ComponentState(component.name, component.url, "running", action=action)
                )
            return report

    def configure(self) -> set[str]:
        """Render, validate and swap in the configuration as deploy and reload do, but start or
        reload nothing; returns what changed. A restore calls it once monitoring.env and certs/
        are back, so the files name this stack's paths and ports, never the backed-up stack's."""
        rendered = self._render_config()
        validate_or_discard(self, rendered)
        return configstore.apply(rendered.staging, self.settings.layout)

    def running(self) -> dict[str, int]:
        """The pid of every running component of this stack, by name."""
        found = {}
        for component in components(self.settings, demo=True):
            pid = self.manager.running(component.name)
            if pid is not None:
                found[component.name] = pid
        return found

    def stop(self, names: Collection[str]) -> None:
        """Stop these components, the last started first."""
        for component in reversed(components(self.settings, demo=True)):
            if component.name in names:
                self.manager.stop(component.name)

    def start(self, names: Collection[str]) -> dict[str, str]:
        """Start these components where they are not running and wait until they are healthy;
        returns {name: why} for those that are not (see `wait_healthy`)."""
        # Grafana's environment comes from the monitoring.env in place now.
        wanted = [
            c
            for c in components(self.settings, demo=True, secrets=self._secrets())
            if c.name in names
        ]
        for component in wanted:
            if component.spec is not None and self.manager.running(component.name) is None:
                self.manager.start(component.spec)
        return wait_healthy(wanted, self.manager, self.settings.startup_timeout_s, self.console)

    # --- the steps -----------------------------------------------------------------------

    def _secrets(self) -> Secrets:
        return Secrets.load(self.settings.state_dir)

    def _render_config(self) -> Rendered:
        settings = self.settings
        secrets, certs = secrets_and_certificates(settings)
        staged = configstore.staging_dir(settings.layout)
        rendered = Rendered(staging=staged, config=staged, certs_changed=certs.changed)
        try:
            render(settings, secrets, local_topology(settings, demo=self.demo), staged)
        except BaseException:
            rendered.discard()
            raise
        return rendered

    def _start_or_reload(
        self, wanted: Sequence[Component], changed: set[str], certs_changed: bool
    ) -> list[ComponentState]:
        """Start what is not running, restart what runs with another command line (a port,
        path or retention changed) and Grafana when its files or certificates changed; mark
        for reload what runs with a changed configuration. Demo parts left from a demo deploy
        are stopped when this one is not a demo."""
        manager = self.manager
        names = {c.name for c in wanted}
        for leftover in DEMO_PARTS:
            if leftover not in names:
                manager.stop(leftover)
        outdated = {
            c.name
            for c in wanted
            if c.spec is not None
            and manager.running(c.name) is not None
            and manager.recorded_argv(c.name) != list(c.spec.argv)
        }
        for name in outdated:
            manager.stop(name)
        reloads = configstore.components_to_reload(changed)
        states = []
        for component in wanted:
            state = ComponentState(component.name, component.url, "")
            states.append(state)
            pid = manager.running(component.name)
            if component.spec is None:
                state.state, state.action = "not installed", "skipped"
                state.hint = component.not_installed
            elif pid is None:
                state.pid = manager.start(component.spec)
                state.action = "restarted" if component.name in outdated else "started"
            elif component.name == "grafana" and (reloads["grafana"] or certs_changed):
                manager.stop(component.name)
                state.pid, state.action = manager.start(component.spec), "restarted"
            elif component.reload_path and reloads.get(component.name):
                state.pid, state.action = pid, "reload"
            else:
                state.pid, state.action = pid, "unchanged"
        return states

    def _finish(self, wanted: Sequence[Component], states: Sequence[ComponentState]) -> None:
        """Wait until the started components are healthy, then reload those marked for it."""
        startable = [c for c in wanted if c.spec is not None]
        timeout_s = self.settings.startup_timeout_s
        failed = wait_healthy(startable, self.manager, timeout_s, self.console)
        by_name = {c.name: c for c in wanted}
        for state in states:
            if state.action == "reload" and state.name not in failed:
                self._reload(by_name[state.name])
                state.action = "reloaded"
            if state.action != "skipped":
                state.state = "unhealthy" if state.name in failed else "healthy"
        if failed:
            log = self.manager.log_file
            details = "\n".join(
                f"  {name}: {why}; last log lines ({log(name)}):\n    {_log_tail(log(name))}"
                for name, why in sorted(failed.items())
            )
            raise DeployError(f"components did not become healthy:\n{details}")

    def _reload(self, component: Component) -> None:
        assert component.reload_path is not None
        server: ComponentName = "prometheus" if component.name == "prometheus" else "alertmanager"
        try:
            with stack_client(self.settings, server, timeout=30.0) as client:
                response = client.post(component.reload_path)
        except httpx.HTTPError as error:
            raise DeployError(f"{component.name}: reload request failed: {error}") from None
        if response.status_code != 200:
            raise DeployError(
                f"{component.name} refused the reload ({response.status_code}): "
                f"{response.text.strip()}; see {self.manager.log_file(component.name)}"
            )


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n    ".join(text[-lines:])
