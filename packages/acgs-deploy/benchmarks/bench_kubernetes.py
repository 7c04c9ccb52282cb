"""Kubernetes render benchmark: `invoke deploy --target kubernetes` from a new process, and the
render's steps in one process once the libraries are loaded.

Target (issue 13): a render under 2 s. A new process pays for loading the operator's typed
models (``cloudcoil-models-prometheus-operator``: about a thousand pydantic classes) and the
Grafana SDK; the in-process rows show where the rest goes. Prints medians of wall-clock and
CPU seconds (CPU is what a busy shared machine changes least); run with
`nox -s bench -- bench_kubernetes`.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acgs_testkit.paths import REPO_ROOT

ROUNDS = 3
TARGET_S = 2.0


Timing = tuple[float, float]  # wall-clock and CPU seconds


def timed(step: Callable[[], object]) -> Timing:
    started, cpu = time.perf_counter(), time.process_time()
    step()
    return time.perf_counter() - started, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def new_process(scratch: Path, round_: int) -> Timing:
    argv = [sys.executable, "-m", "invoke", "deploy", "--target", "kubernetes"]
    argv += ["--out", str(scratch / f"cold-{round_}"), "--state-dir", str(scratch / "state")]
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the render failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, _children_cpu() - cpu  # promtool's CPU (the lint) included


def main() -> None:
    from acgs_deploy.backends import deploy
    from acgs_deploy.backends.base import DeployOptions
    from acgs_deploy.backends.kubernetes import KubernetesBackend
    from acgs_deploy.k8s.render import render_files
    from acgs_deploy.k8s.rules import lint_rules
    from acgs_deploy.k8s.validate import _custom_models, validate_directory
    from acgs_deploy.settings import StackSettings

    rows: dict[str, list[Timing]] = {}
    with tempfile.TemporaryDirectory(prefix="acgs-bench-k8s-") as name:
        scratch = Path(name)
        rows["new process: invoke deploy --target kubernetes"] = [
            new_process(scratch, n) for n in range(ROUNDS)
        ]
        settings = StackSettings.load(scratch / "state")
        rows["load the operator models (once per process)"] = [timed(_custom_models)]
        rows["acgs-rules lint of rules/ (promtool included)"] = [
            timed(lambda: lint_rules(settings.rules_dir)) for _ in range(ROUNDS)
        ]
        rows["build every file (dashboards included)"] = [
            timed(lambda: render_files(settings, "monitoring")) for _ in range(ROUNDS)
        ]
        out = scratch / "warm"
        options = DeployOptions(out=out, namespace="monitoring")
        rows["whole render in this process (lint, build, validate, swap)"] = [
            timed(lambda: deploy(KubernetesBackend(settings, options))) for _ in range(ROUNDS)
        ]
        rows["validate every object of a render"] = [
            timed(lambda: validate_directory(out)) for _ in range(ROUNDS)
        ]
    table = Table(title=f"kubernetes render (seconds; target < {TARGET_S:g} s)")
    for column in ("step", "runs", "median s", "min s", "max s", "median CPU s"):
        table.add_column(column)
    for step, runs in rows.items():
        walls = [wall for wall, _ in runs]
        table.add_row(
            step,
            str(len(runs)),
            f"{statistics.median(walls):.2f}",
            f"{min(walls):.2f}",
            f"{max(walls):.2f}",
            f"{statistics.median(cpu for _, cpu in runs):.2f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
