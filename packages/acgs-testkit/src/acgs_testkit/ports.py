"""Free TCP ports on 127.0.0.1 for test servers, benchmarks and throwaway stacks.

A port found free can still be taken by another process before our server binds it; the
window is milliseconds and the servers we start fail loudly on "address in use", so callers
accept that small race.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from acgs_deploy.settings import StackSettings
from acgs_metrics import SERVICES

__all__ = [
    "GUIDE_PORTS",
    "free_port",
    "free_port_block",
    "free_stack_ports",
    "free_stack_settings",
    "ports_free",
]

# The ports of the guide's stack (Grafana, the seven services, Prometheus, Alertmanager, the
# webhook receiver, node_exporter): never hand them out, whatever runs beside a test.
GUIDE_PORTS = frozenset({3000, *range(8000, 8007), 9090, 9093, 9097, 9100})
# The stack's components with a port of their own, after the seven services' block.
STACK_PORT_FIELDS = (
    "prometheus_port",
    "alertmanager_port",
    "node_exporter_port",
    "grafana_port",
    "webhook_port",
    "victoriametrics_port",
    "query_port",
)


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


def free_port() -> int:
    """One port the kernel says is free (never one of the guide's ports)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in GUIDE_PORTS:
            return port


def free_port_block(size: int) -> int:
    """A base port such that ``base .. base + size - 1`` are all free and none is the guide's."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    for _ in range(200):
        # Below Linux's ephemeral range (32768+), so outgoing connections do not take them.
        base = random.randrange(20000, 32768 - size)  # noqa: S311 (not security)
        block = range(base, base + size)
        if GUIDE_PORTS.isdisjoint(block) and ports_free(block):
            return base
    raise RuntimeError(f"no {size} consecutive free ports found between 20000 and 32767")


def free_stack_ports(prometheus_servers: int = 4, alertmanager_peers: int = 3) -> dict[str, int]:
    """Port settings (StackSettings fields) for a whole stack on ports free right now: one
    block, the seven services from ``sim_base_port``, then each component's port, then room
    for topology ha's further Prometheus servers, Alertmanager peers and their gossip ports."""
    blocks = {
        "prometheus_replica_base_port": prometheus_servers - 1,
        "alertmanager_replica_base_port": alertmanager_peers - 1,
        "alertmanager_cluster_base_port": alertmanager_peers,
    }
    base = free_port_block(len(SERVICES) + len(STACK_PORT_FIELDS) + sum(blocks.values()))
    ports = {"sim_base_port": base}
    for offset, field in enumerate(STACK_PORT_FIELDS, start=len(SERVICES)):
        ports[field] = base + offset
    next_free = base + len(SERVICES) + len(STACK_PORT_FIELDS)
    for field, size in blocks.items():
        ports[field] = next_free
        next_free += size
    return ports


def free_stack_settings(state_dir: Path, **fields: Any) -> StackSettings:
    """Settings for a stack in ``state_dir`` on ports free now; ``fields`` add or override."""
    return StackSettings.load(state_dir, **{**free_stack_ports(), **fields})
