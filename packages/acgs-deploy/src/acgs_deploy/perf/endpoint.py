"""Where a component listens and how to reach it: base URL, CA file, basic-auth credentials.

The load generator needs an async client and the checks a sync one with the same TLS and
auth; both come from here. Only loopback addresses are accepted as load targets.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx


class NotLoopback(ValueError):
    """The target is not on this machine: the load generator refuses to send traffic there."""


@dataclass(frozen=True)
class Endpoint:
    """A component's base URL and credentials. The password never appears in repr()."""

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
        """A sync client for the checks: same base URL, TLS trust and credentials."""
        auth = (
            None if self.username is None else httpx.BasicAuth(self.username, self.password or "")
        )
        return httpx.Client(
            base_url=self.base_url,
            auth=auth,
            verify=self.ssl_context() or True,
            timeout=timeout_s,
        )

    def require_loopback(self) -> None:
        """Raise NotLoopback unless every address the host resolves to is a loopback address."""
        try:
            host = self.hostname
        except ValueError as error:
            raise NotLoopback(str(error)) from error
        try:
            infos = socket.getaddrinfo(host, None)
        except socket.gaierror as error:
            raise NotLoopback(f"cannot resolve {host!r}: {error}") from error
        addresses = {str(info[4][0]) for info in infos}
        foreign = sorted(a for a in addresses if not ipaddress.ip_address(a).is_loopback)
        if foreign:
            raise NotLoopback(
                f"{host!r} resolves to {', '.join(foreign)}: load is only sent to loopback "
                "(127.0.0.0/8, ::1); point the stack's host at 127.0.0.1"
            )
