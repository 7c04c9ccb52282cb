"""Checks every backend runs before it writes, stops or starts anything: binaries present, the
state directory writable with enough free disk, the rules directory holding rules, one port per
component, and every address and port a component will listen on resolvable and bindable.
After the render, the rule count: never fewer rules than loaded now without
``--allow-fewer-rules``. Each refusal is a `DeployError` (or `MissingBinaries`) naming the
stack-file key and what to do."""

from __future__ import annotations

import errno
import shutil
import socket
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from acgs_deploy import binaries
from acgs_deploy.errors import DeployError
from acgs_deploy.rulefiles import count_rules, rule_files
from acgs_deploy.settings import StackSettings

__all__ = [
    "Listener",
    "check_distinct_ports",
    "check_listeners",
    "check_rule_count",
    "check_rules_dir",
    "check_state_dir",
    "require_binaries",
    "require_topology_binaries",
    "unwritable",
]


def require_binaries(names: Iterable[str]) -> None:
    """The named binaries (see `binaries.BINARIES`) are present; as root, missing Debian
    packages are installed. Raises `MissingBinaries` with the command to run otherwise."""
    wanted = set(names)
    binaries.ensure_binaries([b for b in binaries.BINARIES if b.name in wanted])


def require_topology_binaries(settings: StackSettings) -> None:
    """The long-term store and the query endpoint the topology runs are installed (as root,
    installed now); the refusal names the stack-file key that asks for them."""
    needs = []
    if settings.topology_plan.long_term_storage == "victoriametrics":
        needs.append(("long_term_storage: victoriametrics", "victoria-metrics", "none"))
    if settings.topology == "ha":
        needs.append(("topology: ha (its query endpoint)", "haproxy", "single"))
    for key, name, instead in needs:
        try:
            require_binaries([name])
        except binaries.MissingBinaries as error:
            raise binaries.MissingBinaries(
                f"{key} needs {name}, which is not installed ({error}); "
                f"or set {key.split(':')[0]}: {instead}"
            ) from None


def check_state_dir(settings: StackSettings) -> None:
    """The state directory can be made and written, with at least `min_free_disk_mb` free."""
    state = settings.state_dir
    try:
        settings.layout.make()
        with tempfile.NamedTemporaryFile(dir=state, prefix=".write-test-"):
            pass
    except OSError as error:
        raise unwritable(state, error) from None
    free_mb = shutil.disk_usage(state).free // (1 << 20)
    if free_mb < settings.min_free_disk_mb:
        raise DeployError(
            f"only {free_mb} MiB free under {state}; the stack wants at least "
            f"{settings.min_free_disk_mb} MiB (min_free_disk_mb). Free some space or choose "
            "another --state-dir."
        )


def unwritable(state: Path, error: OSError) -> DeployError:
    """The error for a state directory that cannot be created or written, naming why."""
    blocker = next((p for p in (state, *state.parents) if p.exists()), state)
    if not blocker.is_dir():
        why = f"{blocker} is a file, not a directory"
    else:
        why = error.strerror or str(error)
    return DeployError(
        f"cannot write to the state directory {state}: {why}. Choose a writable one with "
        "--state-dir or ACGS_STATE_DIR, or fix its permissions."
    )


def check_distinct_ports(settings: StackSettings) -> None:
    """No two components of the stack on one port."""
    by_port: dict[int, list[str]] = {}
    for name, port in settings.ports().items():
        by_port.setdefault(port, []).append(name)
    clashes = {port: names for port, names in by_port.items() if len(names) > 1}
    if clashes:
        text = "; ".join(f"{port}: {', '.join(names)}" for port, names in sorted(clashes.items()))
        raise DeployError(f"two components share a port ({text}): give each its own port")


@dataclass(frozen=True)
class Listener:
    """One address a component is about to listen on, with the stack-file keys that set it."""

    component: str
    host_key: str  # "" when the address is fixed (the demo webhook's loopback)
    host: str
    port_key: str
    port: int
    # The component's running process, if any: the ports it holds now are not "taken".
    pid: int | None = None


def check_listeners(listeners: Sequence[Listener]) -> None:
    """Every listener's address resolves to one of this machine and its port can be bound
    (free, or held by the same component's running process, which is replaced); one line
    per problem, naming the stack-file key and what to do."""
    problems: dict[str, str] = {}  # keyed so that one bad host is told once
    held: dict[int, set[int]] = {}
    for listener in listeners:
        key, problem = _bind_problem(listener)
        if problem and listener.pid is not None and key == "in use":
            if listener.pid not in held:
                held[listener.pid] = _listening_ports(listener.pid)
            if listener.port in held[listener.pid]:
                problem = None
        if problem:
            per_host = key in ("resolve", "address")
            where = listener.host if per_host else f"{listener.host}:{listener.port}"
            problems.setdefault(f"{key}:{where}", problem)
    if problems:
        raise DeployError(
            "the stack cannot listen where the settings say (nothing was stopped or changed):\n  "
            + "\n  ".join(problems.values())
        )


def _bind_problem(listener: Listener) -> tuple[str, str | None]:
    """What stops `listener` from binding now: ("kind", the line for the user) or ("", None)."""
    where = listener.host_key or "its address"
    try:
        family, _, _, _, address = socket.getaddrinfo(
            listener.host or None, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        return "resolve", (
            f"{where}: {listener.host!r} does not resolve ({reason}): give an address of this "
            "machine (127.0.0.1, or 0.0.0.0 for every interface) or a name that resolves to one"
        )
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as error:
            return _explain_bind(listener, where, error)
    return "", None


def _explain_bind(listener: Listener, where: str, error: OSError) -> tuple[str, str]:
    name, host, port, key = listener.component, listener.host, listener.port, listener.port_key
    if error.errno == errno.EADDRINUSE:
        return "in use", (
            f"{key}: {name} port {port} on {host or '*'} is in use by another program: stop "
            f"that program or choose another {key} (ACGS_{key.upper()}, or the stack file)"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return "address", (
            f"{where}: {host} is not an address of this machine, so the stack cannot listen on "
            "it: give one of its addresses (127.0.0.1, or 0.0.0.0 for every interface)"
        )
    if error.errno == errno.EACCES:
        return "privileged", (
            f"{key}: {name} may not listen on port {port} (below 1024 only root may): "
            f"choose a {key} from 1024 up"
        )
    return "bind", f"{key}: {name} cannot listen on {host}:{port}: {error.strerror or error}"


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` and its children listen on (an HAProxy master's workers
    hold its sockets); none when it cannot be asked."""
    try:
        process = psutil.Process(pid)
        family = [process, *process.children(recursive=True)]
        connections = [c for member in family for c in member.net_connections(kind="inet")]
    except psutil.Error:
        return set()
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}


def check_rules_dir(settings: StackSettings) -> None:
    """rules_dir is a directory holding rule files (``*.yml``, ``*.yaml``): a typo in it must
    not deploy a Prometheus without alerting."""
    rules_dir = settings.rules_dir
    fix = "fix rules_dir in the stack file (or ACGS_RULES_DIR)"
    if not rules_dir.exists():
        raise DeployError(f"rules_dir: {rules_dir} does not exist: {fix}")
    if not rules_dir.is_dir():
        raise DeployError(f"rules_dir: {rules_dir} is not a directory: {fix}")
    if not rule_files(rules_dir):
        raise DeployError(
            f"rules_dir: no rule files (*.yml, *.yaml) in {rules_dir}: {fix}, or add the rules"
        )


def check_rule_count(staged_rules: Path, live_rules: Path, allow_fewer: bool) -> None:
    """The rendered rules hold some rules, and no fewer than the live configuration's unless
    `allow_fewer` (``--allow-fewer-rules``): losing alerts must be meant."""
    after = count_rules(staged_rules)
    if after == 0:
        raise DeployError(
            "rules_dir: the rule files hold no rules, so nothing would alert: fix rules_dir "
            "in the stack file (or ACGS_RULES_DIR), or add the rules"
        )
    before = count_rules(live_rules)
    if after < before and not allow_fewer:
        raise DeployError(
            f"rules_dir: the rule files hold {after} rules, fewer than the {before} loaded now: "
            "nothing was changed. Check rules_dir, or pass --allow-fewer-rules to load fewer."
        )
