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

import contextlib
import dataclasses
import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx
from rich.console import Console

from acgs_deploy import configstore, haproxy, mode, preflight
from acgs_deploy.backends.base import (
    ComponentState,
    DeployOptions,
    Rendered,
    Report,
    secrets_and_certificates,
    validate_or_discard,
)
from acgs_deploy.client import url_endpoint
from acgs_deploy.components import DEMO_PARTS, Component, components
from acgs_deploy.errors import DeployError, writing
from acgs_deploy.infra import PARTS as INFRA_PARTS
from acgs_deploy.infra import Plan
from acgs_deploy.infra import plan as infra_plan
from acgs_deploy.infra.render import write_configs
from acgs_deploy.instances import query_instance
from acgs_deploy.lock import exclusive
from acgs_deploy.process import ProcessManager
from acgs_deploy.render import local_topology, render
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.wait import wait_healthy

__all__ = ["REQUIRED_BINARIES", "LocalBackend", "log_tail"]

# An unresponsive component: no answer to this many probes (PROBE_TIMEOUT_S each). Then it
# gets UNRESPONSIVE_STOP_S to stop on SIGTERM before SIGKILL: replaced well within a minute.
UNRESPONSIVE_TRIES = 3
UNRESPONSIVE_STOP_S = 5.0
# Seconds a reload request may take: Prometheus answers once its old remote_write queue has
# flushed, and a queue whose store is gone (moved, stopped) gives up only after its one-minute
# flush deadline.
RELOAD_REQUEST_S = 90.0
# Seconds a component reloaded by signal gets to answer its probe again.
RELOAD_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Before:
    """What ran before a deploy changed anything, to go back to."""

    config: Path | None  # the live configuration version
    running: dict[str, Component]  # each running component as it was started
    settings: StackSettings | None  # the last deploy's settings, when recorded
    demo: bool  # and its demo mode


# The servers a topology adds (replicas, peers, the store, the query endpoint), as named in
# the run directory: those a smaller topology no longer wants are stopped by a deploy.
TOPOLOGY_SERVER = re.compile(r"(prometheus|alertmanager)-[0-9]+|victoriametrics|query")

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
        deploying = options is not None  # status, down, restore ... describe what runs
        options = options or DeployOptions()
        self.demo = mode.last_demo(settings) if options.demo is None else options.demo
        self.infra = mode.infra_wanted(settings, options.infra, deploying=deploying)
        # The infrastructure parts this deploy runs and leaves out (decided in `preflight`).
        self.plan: Plan | None = None
        self.allow_fewer = options.allow_fewer_rules
        self.console = console
        self.manager = ProcessManager(settings.layout.run_dir, settings.layout.logs_dir)

    # --- the backend interface -----------------------------------------------------------

    def render(self) -> Rendered:
        """Preflight, then the configuration in staging. Nothing is stopped or changed before
        this passes."""
        self.preflight()
        return self._render_config()

    def preflight(self) -> None:
        """What can stop the stack from starting: binaries, state directory, rules directory,
        addresses and ports (a port held by the component's own running process is free)."""
        settings = self.settings
        preflight.require_binaries(REQUIRED_BINARIES)
        preflight.require_topology_binaries(settings)
        preflight.check_state_dir(settings)
        preflight.check_rules_dir(settings)
        preflight.check_distinct_ports(settings)
        preflight.check_listeners(
            [
                listener
                for c in components(settings, demo=self.demo)
                if c.spec is not None
                for listener in c.listeners(self.manager.running(c.name))
            ]
        )
        if self.demo and self.infra:
            self.plan = infra_plan.plan(settings, self.manager)

    def validate(self, rendered: Rendered) -> None:
        """promtool and amtool on the rendered files, then the rule count (see `preflight`)."""
        configstore.validate(rendered.config, self.settings.rules_dir)
        preflight.check_rule_count(
            rendered.config / "rules", self.settings.layout.config_dir / "rules", self.allow_fewer
        )

    def apply(self, rendered: Rendered) -> Report:
        """Stop what answers nothing (frozen, hung), swap the configuration in, then start,
        restart or reload each component and wait. A component that ran before and does not
        come up on the new settings is put back, with the others, on what ran before."""
        parts = self.infra_parts()
        wanted = components(self.settings, demo=self.demo, secrets=self._secrets(), infra=parts)
        before = self._before(wanted)
        replaced = self._stop_unresponsive(before)
        changed = configstore.apply(rendered.staging, self.settings.layout)
        self._remember()
        states = self._start_or_reload(wanted, changed, rendered.certs_changed, replaced)
        self._finish(wanted, states, before)
        self._remember()
        shown = {state.name for state in states}
        left_out = [state for state in self._left_out_states() if state.name not in shown]
        notes = list(self.plan.left_out.values()) if self.plan else []
        return Report(components=[*states, *left_out], config_changed=changed, notes=notes)

    def _remember(self) -> None:
        left_out = dict(self.plan.left_out) if self.plan else {}
        mode.remember(
            self.settings, target="local", demo=self.demo, infra=self.infra, skipped=left_out
        )

    def _left_out_states(self) -> list[ComponentState]:
        """The infrastructure parts left out, each with the line saying why."""
        if not self.plan:
            return []
        return [
            ComponentState(name, "", "left out", action="skipped", hint=why)
            for name, why in self.plan.left_out.items()
        ]

    def status(self) -> Report:
        """Each component: healthy, unhealthy, stopped or not installed."""
        states = []
        left_out = mode.left_out(self.settings)
        wanted = INFRA_PARTS if self.infra else ()
        for component in components(self.settings, demo=self.demo, infra=wanted):
            pid = self.manager.running(component.name)
            hint = component.not_installed if component.spec is None else ""
            if pid is None and component.name in left_out:
                state, hint = "left out", left_out[component.name]
            elif component.spec is None:
                state = "not installed"
            elif pid is None:
                state = "stopped"
            else:
                state = "healthy" if component.probe() else "unhealthy"
            states.append(
                ComponentState(
                    component.name, component.url, state, pid, hint=hint, role=component.role
                )
            )
        return Report(components=states)

    def infra_parts(self) -> list[str]:
        """The infrastructure parts of this stack that run (or are to): none without the demo
        or with --no-infra; else those the last preflight kept (the last deploy's when none
        ran here)."""
        if not (self.demo and self.infra):
            return []
        if self.plan is not None:
            return list(self.plan.run)
        left_out = mode.left_out(self.settings)
        return [part for part in INFRA_PARTS if part not in left_out]

    def down(self) -> Report:
        """Stop every process this state directory started, the last started first."""
        if not self.settings.state_dir.is_dir():
            return Report()
        known = {c.name: c for c in components(self.settings, demo=True, infra=INFRA_PARTS)}
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
        with exclusive(self.settings), writing(self.settings.state_dir):
            if self.manager.running("prometheus") is None:
                raise DeployError(
                    f"Prometheus is not running for {self.settings.state_dir}: "
                    "run `invoke deploy` first"
                )
            previous = configstore.live_version(self.settings.layout)
            changed = self.configure()
            every = components(
                self.settings, demo=self.demo, secrets=self._secrets(), infra=self.infra_parts()
            )
            running = [c for c in every if self.manager.running(c.name) is not None]
            reloading = [c for c in running if c.reloads and c.config_changed(changed)]
            self._reload_all(reloading, previous)
            reloaded = {c.name for c in reloading}
            report = Report(config_changed=changed)
            for component in running:
                action = "unchanged"
                if component.name in reloaded:
                    action = "reloaded"
                elif component.config_changed(changed) and component.spec:
                    self.manager.stop(component.name)
                    self.manager.start(component.spec)
                    action = "restarted"
                report.components.append(
                    ComponentState(
                        component.name, component.url, "running", action=action, role=component.role
                    )
                )
            return report

    def configure(self) -> set[str]:
        """Render, validate and swap in the configuration as deploy and reload do, but start or
        reload nothing; returns what changed. A restore calls it once monitoring.env and certs/
        are back, so the files name this stack's paths and ports, never the backed-up stack's."""
        preflight.check_rules_dir(self.settings)
        rendered = self._render_config()
        validate_or_discard(self, rendered)
        return configstore.apply(rendered.staging, self.settings.layout)

    def running(self) -> dict[str, int]:
        """The pid of every running component of this stack, by name."""
        found = {}
        for component in components(self.settings, demo=True, infra=INFRA_PARTS):
            pid = self.manager.running(component.name)
            if pid is not None:
                found[component.name] = pid
        return found

    def stop(self, names: Collection[str]) -> None:
        """Stop these components, the last started first."""
        for component in reversed(components(self.settings, demo=True, infra=INFRA_PARTS)):
            if component.name in names:
                self.manager.stop(component.name)

    def start(self, names: Collection[str]) -> dict[str, str]:
        """Start these components where they are not running and wait until they are healthy;
        returns {name: why} for those that are not (see `wait_healthy`)."""
        # Grafana's environment comes from the monitoring.env in place now.
        every = components(
            self.settings, demo=True, secrets=self._secrets(), infra=self.infra_parts()
        )
        wanted = [c for c in every if c.name in names]
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
        if self.plan is None and self.infra_parts():
            # A reload or restore (no preflight of the parts): the last deploy's. A restore
            # onto a new machine makes PostgreSQL's cluster here.
            self.plan = Plan(run=self.infra_parts())
        if self.plan is not None:
            infra_plan.prepare(settings, secrets, self.plan)
        parts = self.infra_parts()
        layout = settings.layout
        bundled = False
        if query_instance(settings) is not None:
            pem = layout.certs_dir / haproxy.PEM_NAME
            bundled = haproxy.pem_bundle(layout.server_cert, layout.server_key, pem)
        staged = configstore.staging_dir(layout)
        rendered = Rendered(staging=staged, config=staged, certs_changed=certs.changed or bundled)
        # A new version takes about what the live one does.
        needed = configstore.size(settings.layout.config_dir) or None
        try:
            with writing(settings.layout.config_versions_dir, needed):
                topology = local_topology(settings, demo=self.demo, infra=parts)
                render(settings, secrets, topology, staged)
                write_configs(settings, secrets, staged, parts)
        except BaseException:
            rendered.discard()
            raise
        return rendered

    def _start_or_reload(
        self,
        wanted: Sequence[Component],
        changed: set[str],
        certs_changed: bool,
        replaced: Collection[str],
    ) -> list[ComponentState]:
        """Start what is not running, restart what runs with another command line (a port,
        path or retention changed) and Grafana when its files or certificates changed; mark
        for reload what runs with a changed configuration. Demo parts left from a demo deploy
        are stopped when this one is not a demo. `replaced`: stopped as unresponsive."""
        manager = self.manager
        names = {c.name for c in wanted}
        # Demo parts left from a demo deploy, servers left from a larger topology.
        for leftover in [*DEMO_PARTS, *filter(TOPOLOGY_SERVER.fullmatch, manager.recorded())]:
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
        states = []
        for component in wanted:
            state = ComponentState(component.name, component.url, "", role=component.role)
            states.append(state)
            pid = manager.running(component.name)
            if component.spec is None:
                state.state, state.action = "not installed", "skipped"
                state.hint = component.not_installed
            elif pid is None:
                state.pid = manager.start(component.spec)
                again = component.name in outdated or component.name in replaced
                state.action = "restarted" if again else "started"
                if component.name in replaced:
                    state.hint = "answered nothing (frozen or hung): killed and started again"
            elif component.reloads and (
                component.config_changed(changed) or (certs_changed and component.reload_signal)
            ):
                state.pid, state.action = pid, "reload"
            elif component.config_changed(changed) or (
                certs_changed and component.restarts_on_new_certificates
            ):
                # Reads its files only at start (Grafana, HAProxy, VictoriaMetrics' certs).
                manager.stop(component.name)
                state.pid, state.action = manager.start(component.spec), "restarted"
            else:
                state.pid, state.action = pid, "unchanged"
        return states

    def _finish(
        self, wanted: Sequence[Component], states: Sequence[ComponentState], before: Before
    ) -> None:
        """Wait until the started components are healthy, then reload those marked for it.
        When one that ran before failed, everything goes back to what ran before."""
        startable = [c for c in wanted if c.spec is not None]
        timeout_s = self.settings.startup_timeout_s
        failed = wait_healthy(startable, self.manager, timeout_s, self.console)
        self._leave_out_failed([c for c in startable if c.optional and c.name in failed], failed)
        failed = {name: why for name, why in failed.items() if name not in self._optional(wanted)}
        restarted = {s.name for s in states if s.action == "restarted"} & set(before.running)
        if restarted & set(failed):
            self._roll_back(restarted, before, failed)
        by_name = {c.name: c for c in wanted}
        reloading = [by_name[s.name] for s in states if s.action == "reload"]
        self._reload_all([c for c in reloading if c.name not in failed], before.config)
        left_out = self.plan.left_out if self.plan else {}
        for state in states:
            if state.action == "reload" and state.name not in failed:
                state.action = "reloaded"
            if state.name in left_out:
                state.state, state.hint = "left out", left_out[state.name]
            elif state.action != "skipped":
                state.state = "unhealthy" if state.name in failed else "healthy"
        if failed:
            raise DeployError(f"components did not become healthy:\n{self._why(failed)}")

    @staticmethod
    def _optional(wanted: Sequence[Component]) -> set[str]:
        return {c.name for c in wanted if c.optional}

    def _leave_out_failed(self, failed_parts: Sequence[Component], why: dict[str, str]) -> None:
        """Infrastructure parts that did not come up are stopped and left out, each with one
        line; the rest of the stack does not wait for them or roll back because of them."""
        if self.plan is None:
            self.plan = Plan(run=self.infra_parts())
        for component in failed_parts:
            self.manager.stop(component.name)
            log = self.manager.log_file(component.name)
            self.plan.leave_out(
                component.name,
                f"{component.name}: {why[component.name]} at start; the rest of the stack is "
                f"up. See {log}: {log_tail(log, 1).strip()}",
            )

    def _before(self, wanted: Sequence[Component]) -> Before:
        """What runs now, as it was started: each running component with its command line and
        the address it answers on (from the last deploy's settings when they match)."""
        last, demo = mode.last_settings(self.settings), mode.last_demo(self.settings)
        old = {}
        if last is not None:
            old = {c.name: c for c in components(last, demo=demo, secrets=self._secrets())}
        running = {}
        for component in wanted:
            argv = self.manager.recorded_argv(component.name)
            if component.spec is None or argv is None or not self.manager.running(component.name):
                continue
            previous = old.get(component.name)
            if previous is None or previous.spec is None or list(previous.spec.argv) != argv:
                # Not started by a deploy that recorded its settings: its address is unknown.
                previous = dataclasses.replace(
                    component, spec=dataclasses.replace(component.spec, argv=argv)
                )
            running[component.name] = previous
        config = configstore.live_version(self.settings.layout)
        return Before(config=config, running=running, settings=last, demo=demo)

    def _stop_unresponsive(self, before: Before) -> set[str]:
        """Stop each running component that sends no answer at all (SIGSTOP, a hang): at once
        when the kernel shows it stopped, else after `UNRESPONSIVE_TRIES` probes without one.
        A component that answers, even "not ready" (Prometheus replaying its WAL), is kept."""
        stopped = set()
        for component in before.running.values():
            if component.probe():
                continue
            frozen = self.manager.frozen(component.name)
            if frozen or not any(component.answers() for _ in range(UNRESPONSIVE_TRIES)):
                self.manager.stop(component.name, timeout=UNRESPONSIVE_STOP_S)
                stopped.add(component.name)
        return stopped

    def _roll_back(self, restarted: set[str], before: Before, failed: dict[str, str]) -> NoReturn:
        """Put the configuration that ran before back in place, and every component that ran
        before and was restarted back on its command line; then refuse. (One that only had
        its configuration reloaded is never stopped: a long WAL replay is not a failure.)"""
        why = self._why(failed)  # the failed start's log, before the roll-back's start adds to it
        if before.config is not None:
            configstore.reinstate(before.config, self.settings.layout)
        if before.settings is not None:
            mode.remember(before.settings, target="local", demo=before.demo, infra=self.infra)
        back = [c for name, c in before.running.items() if name in restarted]
        for component in back:
            assert component.spec is not None
            self.manager.stop(component.name)
            self.manager.start(component.spec)
        timeout_s = self.settings.startup_timeout_s
        still = wait_healthy(back, self.manager, timeout_s, self.console)
        again = ", ".join(c.name for c in back if c.name not in still) or "nothing"
        message = (
            f"{', '.join(sorted(failed))} did not start on the new settings: refused. Put back "
            f"on the configuration and command lines that ran before: {again} running again."
        )
        if still:
            message += f" Did not come back: {', '.join(sorted(still))}; see its log."
        raise DeployError(f"{message}\nWhy:\n{why}")

    def _why(self, failed: dict[str, str]) -> str:
        log = self.manager.log_file
        return "\n".join(
            f"  {name}: {why}; last log lines ({log(name)}):\n    {log_tail(log(name))}"
            for name, why in sorted(failed.items())
        )

    def _reload_all(self, targets: Sequence[Component], previous: Path | None) -> None:
        """Reload each target; when one refuses, the configuration live before (`previous`) is
        put back and those already reloaded are reloaded on it again."""
        done: list[Component] = []
        for component in targets:
            try:
                self._reload(component)
            except DeployError as error:
                if previous is None:
                    raise
                configstore.reinstate(previous, self.settings.layout)
                for other in done:
                    with contextlib.suppress(DeployError):
                        self._reload(other)
                raise DeployError(
                    f"{error}. Refused: the configuration that ran before is back in place "
                    "and the running components keep it."
                ) from None
            done.append(component)

    def _reload(self, component: Component) -> None:
        if component.reload_signal:
            self._reload_by_signal(component)
            return
        assert component.reload_path is not None
        try:
            with url_endpoint(self.settings, component.url).client(RELOAD_REQUEST_S) as client:
                response = client.post(component.reload_path)
        except httpx.HTTPError as error:
            raise DeployError(f"{component.name}: reload request failed: {error}") from None
        if response.status_code != 200:
            raise DeployError(
                f"{component.name} refused the reload ({response.status_code}): "
                f"{response.text.strip()}; see {self.manager.log_file(component.name)}"
            )

    def _reload_by_signal(self, component: Component) -> None:
        """SIGUSR2 to an HAProxy master (its file passed ``haproxy -c``), then its probe."""
        pid = self.manager.running(component.name)
        if pid is None:
            raise DeployError(f"{component.name} is not running: nothing to reload")
        haproxy.reload(pid)
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        while not component.probe():
            if time.monotonic() > deadline or self.manager.running(component.name) is None:
                raise DeployError(
                    f"{component.name} did not answer after its reload; see "
                    f"{self.manager.log_file(component.name)}"
                )
            time.sleep(0.1)


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n    ".join(text[-lines:])
