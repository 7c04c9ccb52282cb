"""One component of the local stack (`Component`): what the local backend needs to start,
probe, reload and stop it; and the health probes most components use (`http_checks`).
`acgs_deploy.components` lists the stack's components.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import httpx

from acgs_deploy.client import ComponentName, stack_client, url_endpoint
from acgs_deploy.preflight import Listener
from acgs_deploy.process import ProcessSpec
from acgs_deploy.settings import StackSettings

__all__ = ["PROBE_TIMEOUT_S", "Component", "http_checks", "plain_checks", "server_checks"]


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
    # Reloaded by SIGUSR2 to its process (an HAProxy master: new workers take the sockets over,
    # the old ones finish their requests), not over HTTP.
    reload_signal: bool = False
    not_installed: str = ""
    role: str = ""  # what it is in the topology ("prometheus replica 1"), for status
    # Demo infrastructure: when it cannot run, it is left out and the rest comes up.
    optional: bool = False
    # The stack-file key of each port, when they differ (else `port_key` for all).
    port_keys: Sequence[str] = ()
    # The files (and directories, ending in "/") of the configuration it reads: when one
    # changed it is reloaded (`reload_path`, `reload_signal`), or else restarted.
    config_files: Sequence[str] = ()
    # It reads the certificates only when it starts (or reloads, with `reload_signal`).
    restarts_on_new_certificates: bool = False

    @property
    def reloads(self) -> bool:
        """Whether it can take a new configuration without a restart."""
        return self.reload_path is not None or self.reload_signal

    def listeners(self, pid: int | None) -> list[Listener]:
        """Where it listens, for the preflight; `pid` is its running process, if any."""
        keys = self.port_keys or [self.port_key] * len(self.ports)
        return [
            Listener(self.name, self.host_key, self.host, key, port, pid)
            for key, port in zip(keys, self.ports, strict=True)
        ]

    def config_changed(self, changed: Collection[str]) -> bool:
        """Whether a file it reads is among `changed` (paths in the config directory)."""
        return any(
            name == wanted or (wanted.endswith("/") and name.startswith(wanted))
            for name in changed
            for wanted in self.config_files
        )


# Seconds a health probe waits for an answer; a server that sends none is "unresponsive".
PROBE_TIMEOUT_S = 2.0


def http_checks(
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


def server_checks(
    settings: StackSettings, server: ComponentName | str, path: str, *, url: str | None = None
) -> tuple[Callable[[], bool], Callable[[], bool]]:
    """Through TLS and basic auth: Grafana with its admin account, every other server (at
    `url` when given: a replica, a peer) as the Prometheus user."""
    if url is None or server == "grafana":
        named = cast(ComponentName, server)
        return http_checks(lambda timeout: stack_client(settings, named, timeout=timeout), [path])
    return http_checks(lambda timeout: url_endpoint(settings, url).client(timeout), [path])


def plain_checks(urls: Iterable[str]) -> tuple[Callable[[], bool], Callable[[], bool]]:
    return http_checks(lambda timeout: httpx.Client(timeout=timeout), urls)
