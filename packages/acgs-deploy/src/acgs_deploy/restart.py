"""`invoke restart --rolling`: every component of the local stack restarted in turn, the next
one only once the last is healthy again and its cluster has settled.

Nothing is stopped before every check passed: the binaries are there, the live configuration
passes promtool and amtool, each running component runs the command line the settings give
(else the settings changed since the deploy: deploy first, a restart does not reconfigure),
and every installed component runs and is healthy. A stack with a component stopped or
unhealthy is refused unless ``force``: then the running ones are restarted, the unhealthy ones
too, and the stopped ones are left stopped (`invoke deploy` starts them).

Then, in start order, each component is stopped (SIGTERM), started on the same command line,
and waited for until it answers its health probe and has settled: an Alertmanager peer until
every peer of the cluster lists all of them again. A component that does not come back ends
the roll there, naming it with its log: the ones after it are not touched, so at most one
component is down. On the single topology each restart is an outage of that component; the
report says so and how long each was down.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from acgs_deploy import configstore, preflight
from acgs_deploy.backends.base import ComponentState, Report
from acgs_deploy.backends.local import REQUIRED_BINARIES, LocalBackend, log_tail
from acgs_deploy.client import APIError, Endpoint, alertmanager_status
from acgs_deploy.components import PROBE_TIMEOUT_S, Component, components
from acgs_deploy.errors import DeployError
from acgs_deploy.lock import exclusive
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.wait import wait_healthy

__all__ = ["RollingRestart", "Step", "plan_restart", "roll", "rolling_restart"]

# Prometheus may take a while to close its head block cleanly: SIGKILL only after this.
STOP_TIMEOUT_S = 60.0
SINGLE_TOPOLOGY_NOTE = (
    "topology single: no replica takes over while a component restarts, so each restart is "
    "an outage of that component (its down time is in the report); topology ha keeps a peer "
    "running"
)

# What is still awaited before a restarted component counts as settled; None: settled.
Settled = Callable[[], str | None]


@dataclass(frozen=True)
class Step:
    """One component to restart, and how to tell its cluster has settled afterwards."""

    component: Component
    settled: Settled
    alone: bool  # no peer of its role serves while it restarts: an outage of it


@dataclass(frozen=True)
class RollingRestart:
    """What a roll restarts, in order, and what it leaves alone (stopped, not installed)."""

    steps: list[Step]
    left: list[ComponentState]


def rolling_restart(
    backend: LocalBackend, *, force: bool = False, console: Console | None = None
) -> Report:
    """Check, then restart every running component of `backend` in turn (module docstring).

    `console` shows the progress. Raises DeployError, before anything is stopped, when a check
    fails; during the roll, when a component does not come back (the report of what was done
    so far is in the message)."""
    settings = backend.settings
    _require_deployed(settings)
    with exclusive(settings, "a rolling restart"):
        plan = plan_restart(backend, force=force)
        if console is not None and settings.topology == "single":
            console.print(f"[yellow]{SINGLE_TOPOLOGY_NOTE}[/yellow]", soft_wrap=True)
        done = roll(backend, plan.steps, console)
    alone = [s for s in done if s.action.startswith("restarted") and _was_alone(plan, s.name)]
    notes = []
    if settings.topology == "single":
        notes.append(SINGLE_TOPOLOGY_NOTE)
    elif alone:
        names = ", ".join(s.name for s in alone)
        notes.append(f"no peer served while these restarted (an outage of each): {names}")
    return Report(components=[*done, *plan.left], notes=notes)


def plan_restart(backend: LocalBackend, *, force: bool) -> RollingRestart:
    """Every check that can fail, before anything is stopped; the steps of the roll."""
    settings, manager = backend.settings, backend.manager
    _require_deployed(settings)
    preflight.require_binaries(REQUIRED_BINARIES)
    configstore.validate(settings.layout.config_dir, settings.rules_dir)
    secrets = Secrets.load(settings.state_dir)
    wanted = components(settings, demo=backend.demo, secrets=secrets)
    installed = [c for c in wanted if c.spec is not None]
    outdated = [
        c.name
        for c in installed
        if manager.running(c.name) is not None
        and manager.recorded_argv(c.name) != list(c.spec.argv if c.spec else ())
    ]
    if outdated:
        raise DeployError(
            f"{', '.join(outdated)} run with another command line than the settings give "
            "(they changed since the last deploy): run `invoke deploy` to apply them; a "
            "rolling restart restarts what runs, it does not reconfigure. Nothing was stopped."
        )
    stopped = [c.name for c in installed if manager.running(c.name) is None]
    unhealthy = [c.name for c in installed if c.name not in stopped and not c.probe()]
    if (stopped or unhealthy) and not force:
        found = [f"{', '.join(stopped)} stopped"] if stopped else []
        found += [f"{', '.join(unhealthy)} unhealthy"] if unhealthy else []
        raise DeployError(
            f"{'; '.join(found)}: a rolling restart would leave less running than before. "
            "Run `invoke deploy` to repair the stack first, or give --force to restart what "
            "runs anyway (stopped components stay stopped). Nothing was stopped."
        )
    running = [c for c in installed if c.name not in stopped]
    if not running:
        raise DeployError(f"nothing of the stack runs in {settings.state_dir}: run `invoke deploy`")
    roles = [_role(c.name) for c in running]
    steps = [
        Step(c, _settle_check(settings, secrets, c, running), roles.count(_role(c.name)) < 2)
        for c in running
    ]
    left = [
        ComponentState(c.name, c.url, "stopped", action="left stopped (--force)")
        for c in installed
        if c.name in stopped
    ]
    left += [
        ComponentState(c.name, c.url, "not installed", action="skipped", hint=c.not_installed)
        for c in wanted
        if c.spec is None
    ]
    return RollingRestart(steps, left)


def _require_deployed(settings: StackSettings) -> None:
    if not settings.layout.config_dir.is_dir() or not settings.layout.env_file.is_file():
        raise DeployError(f"no stack is deployed in {settings.state_dir}: run `invoke deploy`")


def roll(
    backend: LocalBackend, steps: Sequence[Step], console: Console | None = None
) -> list[ComponentState]:
    """Restart each step's component, waiting for health and settling before the next; a
    component that does not come back ends the roll (DeployError)."""
    settings, manager = backend.settings, backend.manager
    timeout_s = settings.startup_timeout_s
    done: list[ComponentState] = []
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=console is None) as progress:
        task = progress.add_task("rolling restart", total=len(steps))
        for number, step in enumerate(steps, 1):
            component = step.component
            assert component.spec is not None

            def show(what: str, name: str = component.name, number: int = number) -> None:
                progress.update(task, description=f"[{number}/{len(steps)}] {name}: {what}")

            show("stopping")
            stopped_at = time.monotonic()
            manager.stop(component.name, timeout=STOP_TIMEOUT_S)
            show("starting")
            pid = manager.start(component.spec)
            show("waiting for health")
            failed = wait_healthy([component], manager, timeout_s)
            down_s = time.monotonic() - stopped_at
            if failed:
                _refuse(backend, component, failed[component.name], done, steps[number:])
            awaited = _wait_settled(step.settled, timeout_s, show)
            if awaited is not None:
                _refuse(backend, component, f"did not settle: {awaited}", done, steps[number:])
            action = f"restarted (down {down_s:.1f} s)"
            done.append(ComponentState(component.name, component.url, "healthy", pid, action))
            progress.advance(task)
        progress.update(task, description="rolling restart: done")
    return done


def _wait_settled(settled: Settled, timeout_s: float, show: Callable[[str], None]) -> str | None:
    """Poll `settled` until it says nothing is awaited; what was still awaited at the end."""
    deadline = time.monotonic() + timeout_s
    awaited = settled()
    while awaited is not None and time.monotonic() < deadline:
        show(awaited)
        time.sleep(0.2)
        awaited = settled()
    return awaited


def _refuse(
    backend: LocalBackend,
    component: Component,
    why: str,
    done: Sequence[ComponentState],
    untouched: Sequence[Step],
) -> None:
    log = backend.manager.log_file(component.name)
    restarted = ", ".join(s.name for s in done) or "none"
    left = ", ".join(s.component.name for s in untouched) or "none"
    raise DeployError(
        f"{component.name} did not come back after its restart ({why}): the roll stopped "
        f"there. Restarted before it: {restarted}; not touched: {left}. Last log lines "
        f"({log}):\n    {log_tail(log)}"
    )


def _was_alone(plan: RollingRestart, name: str) -> bool:
    return any(step.alone for step in plan.steps if step.component.name == name)


def _role(name: str) -> str:
    """What a component is, without its replica number: peers share a role."""
    return re.sub(r"-\d+$", "", name)


def _settle_check(
    settings: StackSettings, secrets: Secrets, component: Component, running: Sequence[Component]
) -> Settled:
    """How to tell the cluster of `component` has settled after its restart."""
    peers = [c for c in running if _role(c.name) == "alertmanager"]
    if _role(component.name) == "alertmanager" and len(peers) > 1:
        return _alertmanager_cluster(settings, secrets, peers)
    return lambda: None


def _alertmanager_cluster(
    settings: StackSettings, secrets: Secrets, peers: Sequence[Component]
) -> Settled:
    """Settled when every peer says its cluster is ready and lists all the peers (gossip has
    brought the restarted one back into every member's view)."""

    def awaited() -> str | None:
        for peer in peers:
            server = Endpoint(
                peer.url,
                settings.layout.ca_cert,
                secrets.prometheus_username,
                secrets.prometheus_password,
            )
            try:
                with server.client(PROBE_TIMEOUT_S) as client:
                    cluster = alertmanager_status(client).get("cluster") or {}
            except APIError:
                return f"cluster settling: {peer.name} does not answer"
            listed = len(cluster.get("peers") or [])
            if cluster.get("status") != "ready" or listed < len(peers):
                return f"cluster settling: {peer.name} lists {listed}/{len(peers)} peers"
        return None

    return awaited
