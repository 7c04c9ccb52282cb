"""Checks every backend runs before it writes or starts anything: binaries present, the state
directory writable with enough free disk, one port per component, the ports of what will start
free. Each refusal is a `DeployError` (or `MissingBinaries`) that says what to do."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from acgs_deploy import binaries
from acgs_deploy.errors import DeployError
from acgs_deploy.settings import StackSettings

__all__ = [
    "check_distinct_ports",
    "check_ports_free",
    "check_state_dir",
    "ports_free",
    "require_binaries",
    "unwritable",
]


def ports_free(ports: Iterable[int], host: str = "127.0.0.1") -> bool:
    """True when a server could listen on every port of ``host`` (IPv4 or IPv6) now.

    TIME_WAIT leftovers do not count, as for the servers themselves.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in ports:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def require_binaries(names: Iterable[str]) -> None:
    """The named binaries (see `binaries.BINARIES`) are present; as root, missing Debian
    packages are installed. Raises `MissingBinaries` with the command to run otherwise."""
    wanted = set(names)
    binaries.ensure_binaries([b for b in binaries.BINARIES if b.name in wanted])


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


def check_ports_free(listeners: Sequence[tuple[str, str, int]]) -> None:
    """Each (component, host, port) that is about to start can bind: no other program has it."""
    busy = [
        f"{name} port {port} on {host}"
        for name, host, port in listeners
        if not ports_free([port], host)
    ]
    if busy:
        raise DeployError(
            "ports in use by another program: "
            + "; ".join(busy)
            + ". Stop that program or choose other ports: ACGS_PROMETHEUS_PORT=... (one "
            "variable per port, see configs/stack.example.yml) or the same keys in a stack file."
        )
