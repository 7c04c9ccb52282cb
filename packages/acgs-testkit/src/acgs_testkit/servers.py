"""Real Prometheus, Alertmanager and node_exporter processes for tests and benchmarks.

Each runs on a free loopback port in a working directory the caller owns, with the command
line acgs-deploy builds (:mod:`acgs_deploy.commandlines`), plain HTTP or behind a web config
with TLS and basic auth (:class:`WebAuth`). A :class:`Server` is a context manager: it is
stopped on the way out, whatever happened, and ``start`` raises with the log's tail when the
process exits or never answers.

    with prometheus(tmp_path / "prom") as server, server.client() as client:
        client.get("/api/v1/query", params={"query": "up"})
"""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import bcrypt
import httpx

from acgs_deploy.commandlines import (
    alertmanager_command,
    node_exporter_command,
    prometheus_command,
)
from acgs_deploy.render import web_config
from acgs_testkit.ports import free_port
from acgs_testkit.waiting import stop_process, wait_ready

__all__ = [
    "Server",
    "WebAuth",
    "alertmanager",
    "create_blocks",
    "node_exporter",
    "prometheus",
    "self_scrape_config",
]


@dataclass(frozen=True)
class WebAuth:
    """TLS and basic auth for a server's ``--web.config.file``, and how clients pass them."""

    cert: Path
    key: Path
    ca: Path  # what clients trust
    username: str
    password: str
    bcrypt_cost: int = 4  # bcrypt's minimum: cheap for tests; benchmarks compare others

    def write(self, path: Path) -> Path:
        """The stack's web config (:func:`acgs_deploy.render.web_config`) for these files and
        credentials, the password hashed at ``bcrypt_cost``."""
        hashed = bcrypt.hashpw(
            self.password.encode(), bcrypt.gensalt(rounds=self.bcrypt_cost)
        ).decode()
        path.write_text(web_config(self.username, hashed, str(self.cert), str(self.key)))
        path.chmod(0o600)
        return path

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


class Server:
    """One server process on ``port``; ``ready_path`` answers 200 once it serves."""

    def __init__(
        self,
        argv: Sequence[str],
        port: int,
        log: Path,
        ready_path: str = "/-/ready",
        auth: WebAuth | None = None,
        data: Path | None = None,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
    ) -> None:
        self.argv = list(argv)
        # Added to the environment (credentials go here, never in argv); `user`: run as
        # that system user (PostgreSQL refuses root).
        self.env = {**os.environ, **(env or {})}
        self.user = user
        self.port = port
        self.auth = auth
        self.data = data  # its data directory (Prometheus' TSDB, Alertmanager's state)
        self.url = f"{'https' if auth else 'http'}://127.0.0.1:{port}"
        self.log = log
        self._ready_path = ready_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server was not started"
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self, timeout: float = 60.0) -> httpx.Client:
        """A client with the server's base URL, trusting its CA and sending its credentials."""
        if self.auth is None:
            return httpx.Client(base_url=self.url, timeout=timeout)
        return httpx.Client(
            base_url=self.url,
            timeout=timeout,
            verify=self.auth.ssl_context(),
            auth=(self.auth.username, self.auth.password),
        )

    def start(self, timeout_s: float = 60.0) -> None:
        """Start it and wait until it answers; a start that fails stops what it started."""
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, user=self.user
            )
        try:
            self.wait_ready(self._process, timeout_s)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, process: subprocess.Popen[bytes], timeout_s: float) -> None:
        """Until the server answers ``GET ready_path`` with 200 (other servers override)."""
        with self.client(timeout=1.0) as client:
            wait_ready(
                client,
                self._ready_path,
                process=process,
                log=self.log,
                timeout_s=timeout_s,
                what=self.argv[0],
            )

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, timeout_s=30)
        self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def self_scrape_config(port: int, interval: str = "1s") -> str:
    """A Prometheus config that scrapes only itself (plain HTTP) every ``interval``."""
    return (
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        "scrape_configs:\n  - job_name: prometheus\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{port}']\n"
    )


def prometheus(
    workdir: Path,
    config: str | None = None,
    *,
    port: int | None = None,
    auth: WebAuth | None = None,
    retention: str | None = None,
    extra: Sequence[str] = (),
) -> Server:
    """Prometheus with ``config`` (default: scraping itself every second), data in
    ``workdir/data`` kept for ``retention`` (Prometheus' 15 d when None), the admin and
    lifecycle APIs on (the stack's command line)."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "prometheus.yml"
    path.write_text(config if config is not None else self_scrape_config(port))
    argv = prometheus_command(
        config=path,
        data=workdir / "data",
        listen=f"127.0.0.1:{port}",
        web_config=auth.write(workdir / "web.yml") if auth else None,
        retention=retention,
        extra=extra,
    )
    return Server(argv, port, workdir / "prometheus.log", auth=auth, data=workdir / "data")


def alertmanager(
    workdir: Path,
    config: str | None = None,
    *,
    port: int | None = None,
    auth: WebAuth | None = None,
    maintenance_interval: str | None = None,
) -> Server:
    """A single Alertmanager with ``config`` (default: one receiver that sends nothing),
    behind ``auth`` when given, writing its silences to disk every ``maintenance_interval``
    (Alertmanager's default when None)."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "alertmanager.yml"
    path.write_text(config or "route:\n  receiver: none\nreceivers:\n  - name: none\n")
    argv = alertmanager_command(
        config=path,
        data=workdir / "data",
        listen=f"127.0.0.1:{port}",
        web_config=auth.write(workdir / "web.yml") if auth else None,
        maintenance_interval=maintenance_interval,
    )
    return Server(argv, port, workdir / "alertmanager.log", auth=auth, data=workdir / "data")


def node_exporter(workdir: Path, *, port: int | None = None, auth: WebAuth | None = None) -> Server:
    """A node_exporter, behind ``auth`` when given."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = node_exporter_command(
        listen=f"127.0.0.1:{port}",
        web_config=auth.write(workdir / "web.yml") if auth else None,
    )
    return Server(argv, port, workdir / "node_exporter.log", ready_path="/metrics", auth=auth)


def create_blocks(openmetrics: Path, data_dir: Path) -> None:
    """TSDB blocks from an OpenMetrics file (``promtool tsdb create-blocks-from openmetrics``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(data_dir)],
        check=True,
        capture_output=True,
    )
