"""A throwaway monitoring stack for tests and benchmarks that run dashboard queries.

:func:`local_stack` starts real programs on free loopback ports in a temporary directory:
``acgs-sim`` (the seven demo services, jobs ``acgs-<service>``, by default with a small
``error_rate`` fault on gs so 5xx series and the SLO error-ratio recordings exist; a
healthy stack without it is one argument away), ``prometheus``
(scraping every second, loading the given rule files plus an always-firing alert, sending to
the Alertmanager), ``prometheus-alertmanager`` and ``prometheus-node-exporter``. It yields a
:class:`LocalStack` once the first scrapes have landed, and stops everything it started on
the way out, whatever happened.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from acgs_metrics.ports import free_port

__all__ = ["BINARIES", "LocalStack", "StackError", "free_port", "local_stack"]

BINARIES = ("prometheus", "prometheus-node-exporter", "prometheus-alertmanager")


class StackError(RuntimeError):
    """A program of the stack is missing, exited or never answered."""


@dataclass
class LocalStack:
    url: str
    services: tuple[str, ...]
    state: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def wait_for(self, query: str, timeout_s: float = 30) -> None:
        """Until ``query`` has a result (the scrapes or rule evaluations have landed)."""
        deadline = time.monotonic() + timeout_s
        with self.client() as client:
            while time.monotonic() < deadline:
                body = client.get("/api/v1/query", params={"query": query}).json()
                if body["status"] == "success" and body["data"]["result"]:
                    return
                time.sleep(0.3)
        raise StackError(f"Prometheus never returned data for {query}")


def _wait_http(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise StackError(f"{what} did not answer at {url}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _prometheus_config(
    state: Path, rule_files: Sequence[Path], am_port: int, jobs: Sequence[tuple[str, str]]
) -> Path:
    (state / "always.yml").write_text(
        "groups:\n- name: always\n  rules:\n  - alert: AlwaysFiring\n    expr: vector(1)\n"
    )
    rules = ", ".join(f"'{p}'" for p in [state / "always.yml", *rule_files])
    configs = "".join(
        f"- job_name: {job}\n  static_configs: [{{targets: ['{target}']}}]\n"
        for job, target in jobs
    )
    path = state / "prometheus.yml"
    path.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{rules}]\n"
        "alerting: {alertmanagers: [{static_configs: "
        f"[{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\n"
        f"scrape_configs:\n{configs}"
    )
    return path


@contextmanager
def local_stack(
    rule_files: Sequence[Path] = (), gs_error_rate: float | None = 0.05
) -> Iterator[LocalStack]:
    """Start the stack (see the module docstring); stopped when the block ends.

    ``gs_error_rate``: the share of gs requests answered 5xx; None for no fault at all.

    Needs ``acgs-sim`` installed (the workspace has it; acgs-dashboards does not depend on it).
    """
    from acgs_sim.testing import SimProcess, free_base_port

    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        raise StackError(f"{', '.join(missing)} missing: run `invoke install-deps`")
    with ExitStack() as cleanup:
        state = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="acgs-dash-")))
        log = cleanup.enter_context((state / "processes.log").open("wb"))

        def start(*args: str) -> subprocess.Popen[bytes]:
            process = subprocess.Popen(args, stdout=log, stderr=log)
            cleanup.callback(_stop, process)
            return process

        sim = SimProcess(free_base_port(), "--seed", "7")
        cleanup.callback(lambda: sim.process is not None and sim.terminate())
        sim.start()
        if gs_error_rate is not None:
            fault = {"fault": "error_rate", "value": gs_error_rate}
            httpx.post(f"{sim.url('gs')}/control/faults", json=fault).raise_for_status()
        node_port, am_port, prom_port = free_port(), free_port(), free_port()
        start("prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node_port}")
        (state / "alertmanager.yml").write_text(
            "route: {receiver: none}\nreceivers: [{name: none}]\n"
        )
        start(
            "prometheus-alertmanager",
            f"--config.file={state / 'alertmanager.yml'}",
            f"--storage.path={state / 'am'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        )
        jobs = [
            ("prometheus", f"127.0.0.1:{prom_port}"),
            ("node", f"127.0.0.1:{node_port}"),
            ("alertmanager", f"127.0.0.1:{am_port}"),
            *((f"acgs-{s}", f"127.0.0.1:{sim.port(s)}") for s in sim.services),
        ]
        config = _prometheus_config(state, rule_files, am_port, jobs)
        prometheus = start(
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={state / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        )
        url = f"http://127.0.0.1:{prom_port}"
        _wait_http(f"{url}/-/ready", prometheus, "prometheus")
        stack = LocalStack(url, tuple(sim.services), state)
        stack.wait_for('up{job="acgs-ec"} == 1')
        stack.wait_for("alertmanager_notifications_total")
        yield stack
