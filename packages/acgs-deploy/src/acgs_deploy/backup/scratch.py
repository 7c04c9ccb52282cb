"""A throwaway Prometheus or Alertmanager on a free loopback port, for tests and benchmarks.

The deployed stack is managed by the local backend; this only starts a single process with the
stack's command line (admin API, lifecycle), without TLS, and always stops it (use it as a
context manager).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from acgs_deploy.commandlines import alertmanager_command, prometheus_command
from acgs_metrics.ports import free_port


class ScratchServer:
    def __init__(self, argv: list[str], port: int, log: Path, ready_path: str) -> None:
        self.argv = argv
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log
        self._ready_path = ready_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited; see {self._log}")
            try:
                if httpx.get(self.url + self._ready_path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} not ready after {timeout_s}s; see {self._log}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def __enter__(self) -> ScratchServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def scratch_prometheus(
    workdir: Path,
    *,
    scrape_interval: str = "1s",
    extra_flags: tuple[str, ...] = (),
    port: int | None = None,
) -> ScratchServer:
    """Prometheus scraping itself, data in workdir/data, admin API and lifecycle enabled."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {scrape_interval}\n  evaluation_interval: {scrape_interval}\n"
        "scrape_configs:\n  - job_name: prometheus\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{port}']\n"
    )
    argv = prometheus_command(
        config=config,
        data=workdir / "data",
        listen=f"127.0.0.1:{port}",
        retention="3650d",
        extra=extra_flags,
    )
    return ScratchServer(argv, port, workdir / "prometheus.log", "/-/ready")


def scratch_alertmanager(workdir: Path, port: int | None = None) -> ScratchServer:
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    argv = alertmanager_command(config=config, data=workdir / "data", listen=f"127.0.0.1:{port}")
    return ScratchServer(argv, port, workdir / "alertmanager.log", "/-/ready")


def create_blocks(openmetrics: Path, data_dir: Path) -> None:
    """Write TSDB blocks from an OpenMetrics file (promtool tsdb create-blocks-from openmetrics)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(data_dir)],
        check=True,
        capture_output=True,
    )
