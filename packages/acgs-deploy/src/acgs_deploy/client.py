"""HTTP clients for the running stack: base URL, the stack's CA and the right credentials.

``stack_client(settings, "prometheus")`` is what every tool (health, perf, backup, tests) uses
to talk to a component, so TLS and auth are configured in one place.
"""

from __future__ import annotations

import ssl
from typing import Literal

import httpx

from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings

__all__ = ["Component", "base_url", "ssl_context", "stack_client"]

Component = Literal["prometheus", "alertmanager", "node_exporter", "grafana"]
COMPONENTS: tuple[Component, ...] = ("prometheus", "alertmanager", "node_exporter", "grafana")


def base_url(settings: StackSettings, component: Component) -> str:
    ports = {
        "prometheus": settings.prometheus_port,
        "alertmanager": settings.alertmanager_port,
        "node_exporter": settings.node_exporter_port,
        "grafana": settings.grafana_port,
    }
    if component not in ports:
        raise ValueError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")
    host = settings.connect_host
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{ports[component]}"


def ssl_context(settings: StackSettings) -> ssl.SSLContext:
    """Trusts only the stack's CA (``<state>/certs/ca.crt``)."""
    return ssl.create_default_context(cafile=str(settings.layout.ca_cert))


def stack_client(
    settings: StackSettings,
    component: Component,
    *,
    timeout: float = 10.0,
    secrets: Secrets | None = None,
    auth: bool = True,
) -> httpx.Client:
    """An ``httpx.Client`` for ``component`` with base URL, CA and basic auth set.

    Grafana gets the admin account; the others the Prometheus user (``acgs_monitor``).
    ``auth=False`` leaves credentials out (for tests that check refusal).
    """
    credentials: tuple[str, str] | None = None
    if auth:
        loaded = secrets or Secrets.load(settings.state_dir)
        if component == "grafana":
            credentials = ("admin", loaded.grafana_admin_password)
        else:
            credentials = (loaded.prometheus_username, loaded.prometheus_password)
    return httpx.Client(
        base_url=base_url(settings, component),
        verify=ssl_context(settings),
        auth=credentials,
        timeout=timeout,
    )
