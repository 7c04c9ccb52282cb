"""Benchmark: the live checks of 1,000 rules against a local Prometheus. Target: < 10 s.

Starts a real Prometheus on a free port (acgs_testkit.livedata) with 24 hours of backfilled
history (100 gauge and 100 counter families, 3 series each, a point a minute), writes 1,000
rules (800 alerts, 200 recording rules) over those metrics (every 25th name misspelled), and
times
``lint(..., live=LiveOptions(...))`` with promtool off: the live part (metadata, targets,
running config, one /api/v1/series per metric name, a 24 h backtest range query per alert
at the default 1 m step) and the whole lint, per ``--live-concurrency``. Prints a rich table
and the machine's load average: Prometheus and the linter share its cores, so a loaded
machine reads slower.

    uv run python packages/acgs-rules/benchmarks/bench_live.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from acgs_rules.lint import lint
from acgs_rules.live import LiveOptions
from acgs_rules.settings import LintSettings
from acgs_testkit.livedata import live_prometheus

RULES = 1000
TARGET_SECONDS = 10.0
FAMILIES = 100  # backfilled: a gauge and a counter each, 3 series, 24 h at 1 m
SERIES = 3
TEMPLATES = [
    "bench_gauge_{i} > {n}",
    "rate(bench_requests_{i}_total[5m]) > 0.0{n}",
    'max by (instance) (bench_gauge_{i}{{instance=~"i.*"}}) > {n}',
    "avg_over_time(bench_gauge_{i}[10m]) < 0.{n}",
]


def write_history(path: Path, now: int) -> None:
    """24 h of FAMILIES gauges (slow waves between 0 and 10, each its own period) and
    counters (rates that wander), SERIES instances each, one point a minute."""
    gauges, counters = [], []
    start = now - 86_400
    for i in range(FAMILIES):
        gauges.append(f"# TYPE bench_gauge_{i} gauge")
        counters.append(f"# TYPE bench_requests_{i} counter")
        for s in range(SERIES):
            total = 0.0
            for t in range(start, now - 60, 60):
                phase = (t - start) / (1800 + 300 * i + 600 * s)
                value = 5 + 5 * math.sin(2 * math.pi * phase)
                total += value
                labels = f'{{job="bench",instance="i{s}"}}'
                gauges.append(f"bench_gauge_{i}{labels} {value:.3f} {t}")
                counters.append(f"bench_requests_{i}_total{labels} {total:.1f} {t}")
    path.write_text("\n".join([*gauges, *counters, "# EOF"]) + "\n")


def rule_file(count: int) -> dict[str, object]:
    """``count`` rules in groups of 50 over the backfilled families (every 25th misspelled)."""
    groups = []
    for g in range(count // 50):
        rules: list[dict[str, object]] = []
        for k in range(50):
            n = g * 50 + k
            family = f"{n % FAMILIES}" + ("_typo" if n % 25 == 0 else "")
            expr = TEMPLATES[n % len(TEMPLATES)].format(i=family, n=n % 9 + 1)
            if n % 5 == 0:
                rules.append({"record": f"bench:r{n}", "expr": expr.split(" > ")[0]})
                continue
            labels = {"severity": "warning"}
            rules.append({"alert": f"Bench{n}", "expr": expr, "for": "1m", "labels": labels})
        groups.append({"name": f"bench-{g}", "interval": "20s", "rules": rules})
    return {"groups": groups}


def measure(path: Path, url: str, concurrency: int, hours: float) -> tuple[float, float, int, int]:
    options = LiveOptions(url, concurrency=concurrency, backtest_hours=hours)
    started = time.perf_counter()
    result = lint([path], LintSettings(), promtool=False, live=options)
    total = time.perf_counter() - started
    fires = sum(b.fires for b in result.backtests)
    return result.timings["live"], total, len(result.backtests), fires


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="100 rules, one concurrency")
    args = parser.parse_args()
    count = 100 if args.quick else RULES
    console = Console()
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_prometheus(
            Path(tmp) / "prometheus", int(time.time()), history=write_history
        ) as server,
    ):
        path = Path(tmp) / "rules.yml"
        path.write_text(yaml.safe_dump(rule_file(count), sort_keys=False))
        held = f"{2 * FAMILIES * SERIES} series over 24 h"
        table = Table(title=f"live lint of {count} rules ({held})")
        columns = ("concurrency", "live part", "whole lint", "alerts", "fires", "target")
        for column in columns:
            table.add_column(column, justify="right")
        for concurrency in (8,) if args.quick else (1, 4, 8, 16):
            live, total, alerts, fires = measure(path, server.url, concurrency, 24.0)
            verdict = "ok" if total < TARGET_SECONDS else "OVER"
            row = (f"{live:.2f} s", f"{total:.2f} s", str(alerts), str(fires), verdict)
            table.add_row(str(concurrency), *row)
        console.print(table)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        console.print(f"load average during the run: {load} on {os.cpu_count()} core(s)")


if __name__ == "__main__":
    main()
