"""Whole stacks for tests and benchmarks, always taken down.

:func:`local_stack` is a small scraping stack of real programs on free loopback ports in a
temporary directory: ``acgs-sim`` (the seven demo services, jobs ``acgs-<service>``, by
default with a small ``error_rate`` fault on gs so 5xx series and the SLO error-ratio
recordings exist), node_exporter, Alertmanager and Prometheus (scraping every second,
loading the given rule files plus an always-firing alert). No TLS, no acgs-deploy: for
query and dashboard tests.

:func:`deployed_stack` is the real thing: the whole local stack deployed by acgs-deploy's
local backend into a state directory of the caller's, on free ports.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from acgs_deploy import backends
from acgs_deploy.backends.base import DeployOptions
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.settings import StackSettings
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_port, free_stack_ports
from acgs_testkit.servers import alertmanager, node_exporter, prometheus
from acgs_testkit.sim import SimProcess, free_base_port
from acgs_testkit.waiting import wait_for

__all__ = ["BINARIES", "LocalStack", "StackError", "deployed_stack", "local_stack"]

BINARIES = ("prometheus", "prometheus-node-exporter", "prometheus-alertmanager")
ALWAYS_FIRING = "groups:\n- name: always\n  rules:\n  - alert: AlwaysFiring\n    expr: vector(1)\n"


class StackError(RuntimeError):
    """A program the stack needs is not installed."""


@dataclass
class LocalStack:
    url: str
    services: tuple[str, ...]
    state: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def wait_for(self, query: str, timeout_s: float = 30) -> None:
        """Until ``query`` has a result (the scrapes or rule evaluations have landed)."""
        with self.client() as client:

            def answered() -> bool:
                body = client.get("/api/v1/query", params={"query": query}).json()
                return body["status"] == "success" and bool(body["data"]["result"])

            wait_for(answered, timeout_s, f"Prometheus to return data for {query}", every_s=0.3)


def _scrape_config(
    state: Path, rule_files: Sequence[Path], am_port: int, jobs: Sequence[tuple[str, str]]
) -> str:
    (state / "always.yml").write_text(ALWAYS_FIRING)
    rules = ", ".join(f"'{p}'" for p in [state / "always.yml", *rule_files])
    configs = "".join(
        f"- job_name: {job}\n  static_configs: [{{targets: ['{target}']}}]\n"
        for job, target in jobs
    )
    return (
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{rules}]\n"
        "alerting: {alertmanagers: [{static_configs: "
        f"[{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\n"
        f"scrape_configs:\n{configs}"
    )


@contextmanager
def local_stack(
    rule_files: Sequence[Path] = (), gs_error_rate: float | None = 0.05
) -> Iterator[LocalStack]:
    """Start the small stack (see the module docstring); stopped when the block ends.

    ``gs_error_rate``: the share of gs requests answered 5xx; None for no fault at all.
    """
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        raise StackError(f"{', '.join(missing)} missing: run `invoke install-deps`")
    with ExitStack() as cleanup:
        state = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="acgs-stack-")))
        sim = SimProcess(free_base_port(), "--seed", "7")
        cleanup.callback(lambda: sim.process is not None and sim.terminate())
        sim.start()
        if gs_error_rate is not None:
            fault = {"fault": "error_rate", "value": gs_error_rate}
            httpx.post(f"{sim.url('gs')}/control/faults", json=fault).raise_for_status()
        node = cleanup.enter_context(node_exporter(state / "node"))
        am = cleanup.enter_context(alertmanager(state / "alertmanager"))
        port = free_port()
        jobs = [
            ("prometheus", f"127.0.0.1:{port}"),
            ("node", f"127.0.0.1:{node.port}"),
            ("alertmanager", f"127.0.0.1:{am.port}"),
            *((f"acgs-{s}", f"127.0.0.1:{sim.port(s)}") for s in sim.services),
        ]
        config = _scrape_config(state, rule_files, am.port, jobs)
        server = cleanup.enter_context(prometheus(state / "prometheus", config, port=port))
        stack = LocalStack(server.url, tuple(sim.services), state)
        stack.wait_for('up{job="acgs-ec"} == 1')
        stack.wait_for("alertmanager_notifications_total")
        yield stack


@contextmanager
def deployed_stack(root: Path, *, demo: bool = True, **settings: Any) -> Iterator[StackSettings]:
    """The whole local stack deployed into ``root/state``, taken down on the way out.

    Its ports (free now) and rules (a copy of the repository's ``rules/`` in ``root/rules``,
    which tests may change) are in ``root/stack.yml``, as a person would write them, so
    commands given that stack file find the same stack. ``settings`` add or override fields.
    """
    rules = root / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    for source in sorted((REPO_ROOT / "rules").glob("*.yml")):
        shutil.copyfile(source, rules / source.name)
    stack_file = root / "stack.yml"
    # The demo infrastructure (HAProxy, Redis, PostgreSQL) only when asked for (infra=True).
    infra = bool(settings.pop("infra", False))
    ports = free_stack_ports(sim_replicas=settings.get("sim_replicas", 1))
    fields = {**ports, "rules_dir": str(rules), "infra": infra}
    stack_file.write_text(yaml.safe_dump(fields))
    loaded = StackSettings.load(root / "state", stack_file=stack_file, **settings)
    try:
        backends.deploy(LocalBackend(loaded, DeployOptions(demo=demo)))
        yield loaded
    finally:
        LocalBackend(loaded).down()
