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

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psutil
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from acgs_deploy import configstore, haproxy, haproxy_runtime, preflight
from acgs_deploy.backends.base import ComponentState, Report
from acgs_deploy.backends.local import REQUIRED_BINARIES, LocalBackend, log_tail
from acgs_deploy.client import APIError, Endpoint, alertmanager_status
from acgs_deploy.component import PROBE_TIMEOUT_S, Component
from acgs_deploy.components import components
from acgs_deploy.errors import DeployError
from acgs_deploy.instances import numbered_role
from acgs_deploy.lock import exclusive
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.wait import wait_healthy

__all__ = ["RollingRestart", "Step", "plan_restart", "roll", "rolling_restart"]

# The query endpoint (HAProxy) and the flag of its master-worker mode (reloads in place).
QUERY = "query"
MASTER_WORKER = "-W"
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
    # The query endpoint's admin socket, when this server is one of its backends: drained
    # there before it stops, and up there again before the next step.
    front: Path | None = None
    in_place: bool = False  # the query endpoint itself (HAProxy master-worker): reloaded


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
    steps = _steps(settings, secrets, running)
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


def _steps(settings: StackSettings, secrets: Secrets, running: Sequence[Component]) -> list[Step]:
    """The roll, in start order. With a query endpoint running, its admin socket must answer
    now: it says which servers are behind it."""
    roles = [numbered_role(c.name) for c in running]
    query = next((c for c in running if c.name == QUERY), None)
    front = haproxy_runtime.admin_socket(settings.layout.run_dir, QUERY) if query else None
    steps = []
    for component in running:
        settled = [_settle_check(settings, secrets, component, running)]
        behind = front is not None and _front_server(front, component) is not None
        if behind:
            assert front is not None
            settled.append(_up_at_front(front, component))
        in_place = component is query and MASTER_WORKER in (
            component.spec.argv if component.spec else ()
        )
        # Behind the query endpoint, queries go to the other servers meanwhile.
        alone = roles.count(numbered_role(component.name)) < 2 and not in_place and not behind
        steps.append(Step(component, _all_of(settled), alone, front if behind else None, in_place))
    return steps


def _all_of(checks: Sequence[Settled]) -> Settled:
    return lambda: next((awaited for check in checks if (awaited := check()) is not None), None)


def _up_at_front(front: Path, component: Component) -> Settled:
    """Settled when the query endpoint's health checks mark the server up again."""

    def awaited() -> str | None:
        server = _front_server(front, component)
        if server is not None and server.up:
            return None
        status = "not listed" if server is None else server.status
        return f"query endpoint sees it {status}"

    return awaited


def _require_deployed(settings: StackSettings) -> None:
    if not settings.layout.config_dir.is_dir() or not settings.layout.env_file.is_file():
        raise DeployError(f"no stack is deployed in {settings.state_dir}: run `invoke deploy`")


def roll(
    backend: LocalBackend, steps: Sequence[Step], console: Console | None = None
) -> list[ComponentState]:
    """Restart each step's component, waiting for health and settling before the next; a
    component that does not come back ends the roll (DeployError)."""
    timeout_s = backend.settings.startup_timeout_s
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

            def show(what: str, name: str = component.name, number: int = number) -> None:
                progress.update(task, description=f"[{number}/{len(steps)}] {name}: {what}")

            try:
                pid, action = _restart_one(backend, step, show)
            except _NotBack as error:
                _refuse(backend, component, str(error), done, steps[number:])
            awaited = _wait_settled(step.settled, timeout_s, show)
            if awaited is not None:
                _refuse(backend, component, f"did not settle: {awaited}", done, steps[number:])
            done.append(ComponentState(component.name, component.url, "healthy", pid, action))
            progress.advance(task)
        progress.update(task, description="rolling restart: done")
    return done


class _NotBack(Exception):
    """A restarted component did not come back; the message says how it failed."""


def _restart_one(
    backend: LocalBackend, step: Step, show: Callable[[str], None]
) -> tuple[int | None, str]:
    """Restart one component: drained from the query endpoint first when it is behind it,
    reloaded in place when it is the query endpoint. Its pid and what was done."""
    manager, component = backend.manager, step.component
    assert component.spec is not None
    timeout_s = backend.settings.startup_timeout_s
    if step.in_place:
        show("reloading in place (new workers, the listening sockets kept)")
        return _reload_in_place(backend, component, timeout_s), "restarted in place (no outage)"
    drained = None
    if step.front is not None:
        show("draining: put in maintenance at the query endpoint")
        drained = _drain(step.front, component, timeout_s)
    try:
        show("stopping")
        stopped_at = time.monotonic()
        manager.stop(component.name, timeout=STOP_TIMEOUT_S)
        show("starting")
        pid = manager.start(component.spec)
        show("waiting for health")
        failed = wait_healthy([component], manager, timeout_s)
        down_s = time.monotonic() - stopped_at
    finally:
        if drained is not None:
            haproxy_runtime.set_state(drained[0], drained[1], "ready")
    if failed:
        raise _NotBack(failed[component.name])
    return pid, f"restarted (down {down_s:.1f} s)"


def _drain(
    front: Path, component: Component, timeout_s: float
) -> tuple[Path, haproxy_runtime.ServerStat]:
    """Put `component` in maintenance at the query endpoint and wait until its open queries
    have finished; the server, to put back in service after the restart."""
    server = _front_server(front, component)
    if server is None:
        raise DeployError(f"the query endpoint does not list {component.name}: run `invoke deploy`")
    haproxy_runtime.set_state(front, server, "maint")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = _front_server(front, component)
        if now is None or now.sessions == 0:
            break
        time.sleep(0.1)
    return front, server


def _front_server(front: Path, component: Component) -> haproxy_runtime.ServerStat | None:
    """The query endpoint's server that is `component` (by its port: one per server here)."""
    port = str(component.ports[0])
    return next(
        (s for s in haproxy_runtime.server_stats(front) if s.address.rpartition(":")[2] == port),
        None,
    )


def _reload_in_place(backend: LocalBackend, component: Component, timeout_s: float) -> int:
    """HAProxy in master-worker mode: SIGUSR2 makes the master execute itself again and start
    new workers on the listening sockets it holds, while the old workers finish their
    requests: no connection is refused. Done when a new worker serves and the master shows
    its own command line again (it adds ``-sf``/``-x`` while it re-executes)."""
    manager = backend.manager
    master = manager.running(component.name)
    if master is None:
        raise _NotBack("exited")
    process = psutil.Process(master)
    old = {child.pid for child in process.children()}
    haproxy.reload(master)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                raise _NotBack("exited")
            workers = {child.pid for child in process.children()}
        except psutil.NoSuchProcess:
            raise _NotBack("exited") from None
        if workers - old and manager.running(component.name) == master and component.probe():
            return master
        time.sleep(0.1)
    raise _NotBack(f"no new worker replaced the old ones within {timeout_s:.0f} s")


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
) -> NoReturn:
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


def _settle_check(
    settings: StackSettings, secrets: Secrets, component: Component, running: Sequence[Component]
) -> Settled:
    """How to tell the cluster of `component` has settled after its restart."""
    peers = [c for c in running if numbered_role(c.name) == "alertmanager"]
    if numbered_role(component.name) == "alertmanager" and len(peers) > 1:
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
