"""The stack's HTTP APIs, in one place: where each component listens, the stack's CA and the
right credentials, and every call health, perf, backup and restore make to Prometheus,
Alertmanager, Grafana and the demo services.

``stack_client(settings, "prometheus")`` gives an ``httpx.Client`` with base URL, CA and basic
auth set; the functions below take such a client. Every failure is an :class:`APIError`:
:class:`APIUnreachable` when the component did not answer (is the stack running?),
:class:`APIRefused` when it answered with an error. The message names the component, the URL
and, where there is one, what to do.
"""

from __future__ import annotations

import base64
import json
import math
import ssl
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings

__all__ = [
    "APIError",
    "APIRefused",
    "APIUnreachable",
    "ComponentName",
    "Endpoint",
    "MetricCount",
    "alertmanager_status",
    "alerts",
    "api_get",
    "base_url",
    "clear_faults",
    "count_samples",
    "create_silence",
    "endpoint",
    "grafana_dashboard",
    "grafana_health",
    "inject_fault",
    "port_url",
    "prometheus_version",
    "query",
    "query_range",
    "receivers",
    "rule_groups",
    "save_grafana_dashboard",
    "search_grafana_dashboards",
    "silences",
    "sim_url",
    "stack_client",
    "take_snapshot",
    "url_endpoint",
    "wait_ready",
]

ComponentName = Literal[
    "prometheus", "alertmanager", "node_exporter", "grafana", "victoriametrics", "query"
]
COMPONENTS: tuple[ComponentName, ...] = (
    "prometheus",
    "alertmanager",
    "node_exporter",
    "grafana",
    "victoriametrics",
    "query",
)
# One evaluation step of the counting queries: 2 h holds a bounded number of samples per series,
# far below Prometheus's query.max-samples for any sane series count.
COUNT_WINDOW_MS = 2 * 3600 * 1000
MAX_COUNT_STEPS = 10_000
# Prometheus answers at most 11,000 points per series in one range query.
RANGE_POINTS = 10_000


class APIError(RuntimeError):
    """A component's HTTP API could not be used; the message says which, where and why."""


class APIUnreachable(APIError):
    """The component did not answer (connection refused, timeout, TLS handshake failed)."""


class APIRefused(APIError):
    """The component answered with an error (HTTP status, an error body, not JSON)."""


# --- where and how to connect --------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A component's base URL, the CA to trust and the credentials to send.

    The password never appears in repr(). ``ca_file`` None trusts the system store.
    """

    base_url: str
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def tls(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    @property
    def hostname(self) -> str:
        host = urlsplit(self.base_url).hostname
        if not host:
            raise ValueError(f"no host in URL {self.base_url!r}")
        return host

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port or (443 if self.tls else 80)

    @property
    def host_header(self) -> str:
        return urlsplit(self.base_url).netloc.rpartition("@")[2]

    @property
    def authorization(self) -> str | None:
        """The basic-auth header value, or None without credentials."""
        if self.username is None:
            return None
        token = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS context trusting `ca_file` (or the system store); None for plain HTTP."""
        if not self.tls:
            return None
        if self.ca_file is None:
            return ssl.create_default_context()
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, timeout_s: float = 10.0) -> httpx.Client:
        """A sync client with this base URL, TLS trust and credentials."""
        auth = (
            None if self.username is None else httpx.BasicAuth(self.username, self.password or "")
        )
        return httpx.Client(
            base_url=self.base_url, auth=auth, verify=self.ssl_context() or True, timeout=timeout_s
        )


def base_url(settings: StackSettings, component: ComponentName) -> str:
    ports = {
        "prometheus": settings.prometheus_port,
        "alertmanager": settings.alertmanager_port,
        "node_exporter": settings.node_exporter_port,
        "grafana": settings.grafana_port,
        "victoriametrics": settings.victoriametrics_port,
        "query": settings.query_port,
    }
    if component not in ports:
        raise ValueError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")
    return port_url(settings, ports[component])


def port_url(settings: StackSettings, port: int) -> str:
    """The URL of the stack's server on `port` (each replica and peer has its own)."""
    return f"https://{_hostport(settings.connect_host, port)}"


def endpoint(
    settings: StackSettings,
    component: ComponentName,
    *,
    secrets: Secrets | None = None,
    auth: bool = True,
) -> Endpoint:
    """Where `component` of this stack listens, trusting only its CA (``certs/ca.crt``).

    Grafana gets the admin account; the others the Prometheus user (``acgs_monitor``).
    ``auth=False`` leaves credentials out (for tests that check refusal).
    """
    username = password = None
    if auth:
        loaded = secrets or Secrets.load(settings.state_dir)
        if component == "grafana":
            username, password = "admin", loaded.grafana_admin_password
        else:
            username, password = loaded.prometheus_username, loaded.prometheus_password
    return Endpoint(base_url(settings, component), settings.layout.ca_cert, username, password)


def url_endpoint(
    settings: StackSettings, url: str, *, secrets: Secrets | None = None, auth: bool = True
) -> Endpoint:
    """A server of the stack at `url` (a Prometheus replica, an Alertmanager peer, the
    long-term store, the query endpoint) with the stack's CA and the Prometheus user."""
    username = password = None
    if auth:
        loaded = secrets or Secrets.load(settings.state_dir)
        username, password = loaded.prometheus_username, loaded.prometheus_password
    return Endpoint(url, settings.layout.ca_cert, username, password)


def stack_client(
    settings: StackSettings,
    component: ComponentName,
    *,
    timeout: float = 10.0,
    secrets: Secrets | None = None,
    auth: bool = True,
) -> httpx.Client:
    """An ``httpx.Client`` for `component` with base URL, CA and basic auth set."""
    return endpoint(settings, component, secrets=secrets, auth=auth).client(timeout)


def sim_url(settings: StackSettings, index: int) -> str:
    """The base URL of demo service number `index` (acgs-sim: auth 0 ... ec 6)."""
    return f"http://{_hostport(settings.sim_host, settings.sim_base_port + index)}"


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- requests ----------------------------------------------------------------------------


def _send(
    client: httpx.Client,
    method: str,
    path: str,
    what: str,
    *,
    params: Mapping[str, str] | None = None,
    body: Any = None,
) -> httpx.Response:
    """The response, or APIUnreachable; a 401 is APIRefused with the hint to check credentials."""
    try:
        response = client.request(method, path, params=params, json=body)
    except httpx.HTTPError as error:
        raise APIUnreachable(
            f"{what}: {method} {client.base_url}{path}: {type(error).__name__}: {error}"
        ) from None
    if response.status_code == 401:
        raise APIRefused(f"{what}: {_request(response)}: 401 unauthorized: check the credentials")
    return response


def _request(response: httpx.Response) -> str:
    """Method and URL of the request (without the query: it may be long)."""
    url = str(response.request.url).partition("?")[0]
    return f"{response.request.method} {url}"


def _refused(what: str, response: httpx.Response, detail: str | None = None) -> APIRefused:
    return APIRefused(
        f"{what}: {_request(response)}: HTTP {response.status_code}: "
        f"{detail or response.text[:200]}"
    )


def _decode(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise APIRefused(
            f"{what}: {_request(response)}: HTTP {response.status_code}, not JSON"
        ) from None


def _json(
    client: httpx.Client,
    method: str,
    path: str,
    what: str,
    *,
    params: Mapping[str, str] | None = None,
    body: Any = None,
) -> Any:
    """The decoded JSON answer of a request that succeeded; an HTTP error status is refused."""
    response = _send(client, method, path, what, params=params, body=body)
    if response.status_code >= 400:
        raise _refused(what, response)
    return _decode(response, what)


# --- Prometheus --------------------------------------------------------------------------


def _prometheus(
    client: httpx.Client, method: str, path: str, params: Mapping[str, str] | None = None
) -> Any:
    """The `data` of a Prometheus `/api/v1` answer whose status is success."""
    response = _send(client, method, path, "Prometheus", params=params)
    if response.status_code == 404 and "/admin/" in path:
        raise APIRefused(
            f"Prometheus at {client.base_url} has no admin API: start it with "
            "--web.enable-admin-api"
        )
    body = _decode(response, "Prometheus")
    if not isinstance(body, dict) or body.get("status") != "success":
        raise _refused(
            "Prometheus", response, body.get("error") if isinstance(body, dict) else None
        )
    return body.get("data")


def api_get(client: httpx.Client, path: str, params: Mapping[str, str] | None = None) -> Any:
    """GET a Prometheus `/api/v1` path and return its `data`."""
    return _prometheus(client, "GET", path, params)


def query(client: httpx.Client, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant query's result (vector or matrix) as Prometheus returns it."""
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    return list(api_get(client, "/api/v1/query", params)["result"])


def query_range(
    client: httpx.Client, expr: str, start: float, end: float, step_s: float
) -> list[dict[str, Any]]:
    """A range query's matrix, split into chunks under Prometheus' 11,000 points per series."""
    matrix: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + step_s * RANGE_POINTS)
        params = {
            "query": expr,
            "start": f"{chunk_start:.3f}",
            "end": f"{chunk_end:.3f}",
            "step": f"{step_s}",
        }
        for series in api_get(client, "/api/v1/query_range", params)["result"]:
            key = tuple(sorted(series["metric"].items()))
            entry = matrix.setdefault(key, {"metric": series["metric"], "values": []})
            entry["values"].extend(series["values"])
        chunk_start = chunk_end + step_s
    return list(matrix.values())


def rule_groups(client: httpx.Client, kind: str | None = None) -> list[dict[str, Any]]:
    """The loaded rule groups with each rule's state; `kind` "alert" or "record" filters."""
    params = {"type": kind} if kind else None
    return list(api_get(client, "/api/v1/rules", params)["groups"])


def prometheus_version(client: httpx.Client) -> str:
    return str(api_get(client, "/api/v1/status/buildinfo")["version"])


def take_snapshot(client: httpx.Client, data_dir: Path) -> Path:
    """Snapshot the TSDB, head included; returns `<data_dir>/snapshots/<name>`.

    Needs the admin API (``--web.enable-admin-api``).
    """
    data = _prometheus(client, "POST", "/api/v1/admin/tsdb/snapshot", {"skip_head": "false"})
    path = data_dir / "snapshots" / str(data["name"])
    if not path.is_dir():
        raise APIRefused(
            f"Prometheus reported snapshot {data['name']!r} but {path} does not exist: "
            "is the data directory the one this Prometheus uses?"
        )
    return path


@dataclass(frozen=True)
class MetricCount:
    series: int
    samples: int


def _range_selector_ms(version: str) -> int:
    """Range length that makes consecutive windows of COUNT_WINDOW_MS tile without overlap.

    Prometheus 2.x range selectors include both ends, 3.x exclude the start.
    """
    major = int(version.split(".", 1)[0] or 0)
    return COUNT_WINDOW_MS if major >= 3 else COUNT_WINDOW_MS - 1


def _name_selector(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'{{__name__="{escaped}"}}'


def count_samples(
    client: httpx.Client, start_ms: int, end_ms: int, *, workers: int = 4
) -> dict[str, MetricCount]:
    """Series and samples per metric name with timestamps in [start_ms, end_ms].

    Sums count_over_time over windows that tile the range exactly. Each metric's windows are
    split into `workers` range queries run side by side, so one huge metric uses every core.
    """
    if end_ms < start_ms:
        return {}
    window = COUNT_WINDOW_MS
    steps = math.ceil((end_ms - start_ms + 1) / window)
    if steps > MAX_COUNT_STEPS:
        raise APIRefused(f"range of {steps} windows is too long to count")
    first = end_ms - (steps - 1) * window
    per_query = math.ceil(steps / workers)
    selector_ms = _range_selector_ms(prometheus_version(client))
    names = api_get(
        client,
        "/api/v1/label/__name__/values",
        {"start": f"{start_ms / 1000:.3f}", "end": f"{end_ms / 1000:.3f}"},
    )
    parts = [
        (name, first + offset * window, min(steps - 1, offset + per_query - 1))
        for name in sorted(names)
        for offset in range(0, steps, per_query)
    ]

    def count_part(part: tuple[str, int, int]) -> tuple[str, set[str], int]:
        name, start, last_step = part
        params = {
            "query": f"count_over_time({_name_selector(name)}[{selector_ms}ms])",
            "start": f"{start / 1000:.3f}",
            "end": f"{(first + last_step * window) / 1000:.3f}",
            "step": f"{window / 1000:.3f}",
        }
        result = api_get(client, "/api/v1/query_range", params)["result"]
        series = {json.dumps(item["metric"], sort_keys=True) for item in result}
        samples = sum(int(float(v)) for item in result for _, v in item["values"])
        return name, series, samples

    series_by_name: dict[str, set[str]] = {}
    samples_by_name: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, series, samples in pool.map(count_part, parts):
            series_by_name.setdefault(name, set()).update(series)
            samples_by_name[name] = samples_by_name.get(name, 0) + samples
    return {
        name: MetricCount(series=len(series), samples=samples_by_name[name])
        for name, series in series_by_name.items()
        if series
    }


def wait_ready(client: httpx.Client, timeout_s: float = 60.0) -> None:
    """Block until Prometheus' /-/ready answers 200 (after a start or restart)."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = client.get("/-/ready")
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            last = str(error)
        time.sleep(0.2)
    raise APIUnreachable(f"Prometheus at {client.base_url} not ready after {timeout_s}s: {last}")


# --- Alertmanager (API v2) ---------------------------------------------------------------


def alertmanager_status(client: httpx.Client) -> dict[str, Any]:
    """`/api/v2/status`: version, cluster state and the loaded configuration (`config.original`)."""
    return dict(_json(client, "GET", "/api/v2/status", "Alertmanager"))


def receivers(client: httpx.Client) -> list[str]:
    """The names of the configured receivers, sorted."""
    return sorted(r["name"] for r in _json(client, "GET", "/api/v2/receivers", "Alertmanager"))


def alerts(client: httpx.Client, **filters: bool) -> list[dict[str, Any]]:
    """The alerts Alertmanager holds; filters are its query flags (active, silenced, inhibited)."""
    params = {name: "true" if value else "false" for name, value in filters.items()}
    return list(_json(client, "GET", "/api/v2/alerts", "Alertmanager", params=params or None))


def silences(client: httpx.Client) -> list[dict[str, Any]]:
    """Every silence, expired ones included."""
    return list(_json(client, "GET", "/api/v2/silences", "Alertmanager"))


def create_silence(client: httpx.Client, silence: Mapping[str, Any]) -> str:
    """Make `silence`; its id."""
    made = _json(client, "POST", "/api/v2/silences", "Alertmanager", body=dict(silence))
    return str(made["silenceID"])


# --- Grafana -----------------------------------------------------------------------------


def grafana_health(client: httpx.Client) -> dict[str, Any]:
    return dict(_json(client, "GET", "/api/health", "Grafana"))


def search_grafana_dashboards(client: httpx.Client) -> list[dict[str, Any]]:
    params = {"type": "dash-db", "limit": "5000"}
    return list(_json(client, "GET", "/api/search", "Grafana", params=params))


def grafana_dashboard(client: httpx.Client, uid: str) -> dict[str, Any]:
    """`{"dashboard": ..., "meta": ...}` of the dashboard with this uid."""
    return dict(_json(client, "GET", f"/api/dashboards/uid/{uid}", "Grafana"))


def save_grafana_dashboard(client: httpx.Client, body: Mapping[str, Any]) -> None:
    _json(client, "POST", "/api/dashboards/db", "Grafana", body=dict(body))


# --- the demo services (acgs-sim) -------------------------------------------------------


def inject_fault(settings: StackSettings, index: int, fault: str) -> None:
    """Start `fault` on demo service number `index`."""
    with httpx.Client(base_url=sim_url(settings, index), timeout=5) as client:
        _json(client, "POST", "/control/faults", "acgs-sim", body={"fault": fault})


def clear_faults(settings: StackSettings, index: int) -> None:
    """Clear every fault of demo service number `index`."""
    with httpx.Client(base_url=sim_url(settings, index), timeout=5) as client:
        _json(client, "DELETE", "/control/faults", "acgs-sim")
