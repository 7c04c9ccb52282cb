"""The connection to a live Prometheus: base URL, CA, credentials, and one GET helper.

Credentials never come from flags or the URL (a command line is visible to every user of
the machine, and CI logs print it): basic auth from ``$PROMETHEUS_USERNAME`` and
``$PROMETHEUS_PASSWORD`` (the names of the stack's ``monitoring.env``), or a bearer token
from ``$PROMETHEUS_BEARER_TOKEN``. Every failure is a :class:`LiveError` whose one-line
message names the URL path and what to do; it never holds a credential.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

__all__ = [
    "ENV_BEARER_TOKEN",
    "ENV_PASSWORD",
    "ENV_USERNAME",
    "LiveError",
    "api_get",
    "connect",
    "shaped",
]

T = TypeVar("T")
ENV_USERNAME = "PROMETHEUS_USERNAME"
ENV_PASSWORD = "PROMETHEUS_PASSWORD"  # noqa: S105 (the variable's name, not a password)
ENV_BEARER_TOKEN = "PROMETHEUS_BEARER_TOKEN"  # noqa: S105


class LiveError(RuntimeError):
    """The live Prometheus cannot be used; the message says which call and why."""


def _auth(environ: Mapping[str, str]) -> tuple[httpx.Auth | None, dict[str, str]]:
    username, password = environ.get(ENV_USERNAME), environ.get(ENV_PASSWORD)
    token = environ.get(ENV_BEARER_TOKEN)
    if token and (username or password):
        raise LiveError(f"set either ${ENV_BEARER_TOKEN} or ${ENV_USERNAME}/${ENV_PASSWORD}")
    if token:
        return None, {"Authorization": f"Bearer {token}"}
    if bool(username) != bool(password):
        missing = ENV_PASSWORD if username else ENV_USERNAME
        raise LiveError(
            f"basic auth needs both ${ENV_USERNAME} and ${ENV_PASSWORD}: ${missing} is empty"
        )
    return (httpx.BasicAuth(username, password) if username and password else None), {}


def connect(
    url: str,
    ca_file: Path | None = None,
    *,
    concurrency: int = 8,
    timeout_s: float = 30.0,
    environ: Mapping[str, str] | None = None,
) -> httpx.Client:
    """A client for the Prometheus at ``url`` (``http(s)://host:port[/prefix]``), trusting
    ``ca_file`` when given, with at most ``concurrency`` connections."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LiveError(f"--prometheus {url!r}: give an http:// or https:// URL")
    if parts.username or parts.password:
        raise LiveError(
            f"--prometheus: no credentials in the URL; set ${ENV_USERNAME} and ${ENV_PASSWORD} "
            f"(or ${ENV_BEARER_TOKEN}) instead"
        )
    auth, headers = _auth(os.environ if environ is None else environ)
    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as error:
            raise LiveError(f"--ca-file {ca_file}: {error}") from None
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.Client(
        base_url=url.rstrip("/"),
        auth=auth,
        headers=headers,
        verify=verify,
        timeout=timeout_s,
        limits=limits,
    )


def shaped(client: httpx.Client, path: str, read: Callable[[Any], T], data: Any) -> T:
    """``read(data)``, or a :class:`LiveError` when the answer is not shaped as Prometheus
    answers ``path`` (a proxy's page, another server)."""
    try:
        return read(data)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        raise LiveError(
            f"Prometheus {client.base_url}{path}: the answer is not shaped as Prometheus' "
            "(is this URL a Prometheus?)"
        ) from None


def api_get(client: httpx.Client, path: str, params: Mapping[str, Any] | None = None) -> Any:
    """The ``data`` of a successful ``/api/v1`` answer; anything else is a :class:`LiveError`."""
    where = f"Prometheus {client.base_url}{path}"
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as error:
        raise LiveError(f"{where}: {type(error).__name__}: {error}") from None
    if response.status_code in (401, 403):
        raise LiveError(
            f"{where}: HTTP {response.status_code}: check ${ENV_USERNAME}/${ENV_PASSWORD} "
            f"or ${ENV_BEARER_TOKEN}"
        )
    try:
        body = response.json()
    except ValueError:
        raise LiveError(
            f"{where}: HTTP {response.status_code}, not a Prometheus API answer"
        ) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        detail = body.get("error") if isinstance(body, dict) else None
        raise LiveError(f"{where}: HTTP {response.status_code}: {detail or 'no data'}")
    return body.get("data")
