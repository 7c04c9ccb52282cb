"""Perf benchmark: `invoke perf` against a freshly deployed demo stack, and the generator's cost.

Deploys the demo stack (Prometheus, Alertmanager, node_exporter, acgs-sim, webhook) into a
temporary state directory on free ports, runs every perf measurement with the guide's 1000
users for 60 s (change with BENCH_USERS, BENCH_DURATION, BENCH_THINK), prints the target
table and the load generator's own CPU, and tears the stack down. BENCH_TOPOLOGY=ha deploys
the ha topology instead (2 Prometheus, 3 Alertmanagers, VictoriaMetrics, the query endpoint):
the load then goes through the query endpoint, and the overhead of every server is printed
beside one of each. The report (JSON and
pictures) is kept in BENCH_REPORT (default reports/bench-perf). Prints figures; asserts
nothing. Run with `nox -s bench -- bench_perf`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from rich.console import Console

from acgs_deploy import commands
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.stack import deployed_stack


def main() -> None:
    users = int(os.environ.get("BENCH_USERS", "1000"))
    duration = float(os.environ.get("BENCH_DURATION", "60"))
    think = float(os.environ.get("BENCH_THINK", "1"))
    report = Path(os.environ.get("BENCH_REPORT", REPO_ROOT / "reports" / "bench-perf"))
    topology = os.environ.get("BENCH_TOPOLOGY", "single")
    console = Console()
    with (
        tempfile.TemporaryDirectory(prefix="bench-perf-") as tmp,
        deployed_stack(Path(tmp), topology=topology) as settings,
    ):
        code = commands.perf(
            settings=settings, console=console, users=users, duration=duration, think=think,
            report=report, detection_trials=1, quiet_window=30.0,
        )  # fmt: skip
    body = json.loads((report / "report.json").read_text())
    load = body.get("load")
    if load is None:  # perf stopped before the load phase; it printed why
        raise SystemExit(f"perf exit code {code}: no load figures in {report / 'report.json'}")
    console.print(
        f"{users} users, {duration:.0f} s, think {think} s: {load['requests']} requests, "
        f"{load['requests_per_s']:.0f}/s, p50 {load['summary']['p50_ms']:.1f} ms, "
        f"p95 {load['summary']['p95_ms']:.1f} ms, p99 {load['summary']['p99_ms']:.1f} ms, "
        f"success {load['summary']['success_rate']:.3%}; generator CPU "
        f"{load['generator_cpu_s']:.1f} s = {load['generator_core_share']:.1%} of one core "
        f"({load['generator_cpu_s'] / max(1, load['requests']) * 1e6:.0f} µs per request); "
        f"perf exit code {code}"
    )
    overhead = body["overhead"]
    single = overhead["single_topology"]
    availability = load["availability"]
    console.print(
        f"topology {topology}, queries through {availability['endpoint']}: availability "
        f"{availability['whole_run']:.3%} over the run, {availability['worst_window']:.3%} in "
        f"its worst {availability['window_s']:.0f} s; overhead {overhead['cpu_share']:.2%} CPU, "
        f"{overhead['memory_share']:.2%} memory ({len(overhead['processes'])} processes), one "
        f"of each {single['cpu_share']:.2%} CPU, {single['memory_share']:.2%} memory"
    )


if __name__ == "__main__":
    main()
