"""Benchmark: lint 1,000 generated rules. Target: static checks alone under 1 s.

Prints the median of the static checks (load + all checks), and the time with promtool
(`promtool check rules` on the same file), as a rich table. Then, side by side in one run,
`promtool check rules` against the static checks on the same files (issue 15's target: no
slower than 2x promtool), on this repository's rules/ and on a foreign set of 518 rules
reading about 430 metrics no source knows (so every one gets a "did you mean" lookup): the
static checks in process, and the whole `acgs-rules lint --no-promtool` command, whose Python
start-up and imports (the catalog's pydantic models most) promtool does not pay. Then the
whole command on 1,000 and 10,000 rules and on a 50 MB file (refused by the default 5 MiB
limit): wall time and peak RSS (issue 17's bound: 1,000 rules under 150 MB).

    uv run python packages/acgs-rules/benchmarks/bench_lint.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from acgs_rules.lint import lint
from acgs_rules.settings import LintSettings
from acgs_testkit.benchmarks import measure_module
from acgs_testkit.paths import REPO_ROOT

RULES = 1000
RUNS = 5
TARGET_SECONDS = 1.0

TEMPLATES = [
    'sum by (service) (rate(acgs_http_requests_total{{status_code=~"5..", service="{svc}"}}[1m]))'
    " / sum by (service) (rate(acgs_http_requests_total[1m])) > 0.0{n}",
    "histogram_quantile(0.95, sum by (service, le) "
    '(rate(acgs_http_request_duration_seconds_bucket{{service="{svc}"}}[5m]))) > {n}',
    'min by (service, principle_id) (acgs_constitutional_compliance_score{{service="{svc}"}})'
    " < 0.{n}",
    'label_replace(up{{job="acgs-{svc}"}}, "service", "$1", "job", "acgs-(.*)") == 0',
    'predict_linear(node_filesystem_avail_bytes{{mountpoint="/d{n}"}}[6h], 86400) < 0',
    "increase(prometheus_rule_evaluation_failures_total[5m]) > {n}",
]
SERVICES = ["auth", "ac", "integrity", "fv", "gs", "pgc", "ec"]
# Another team's rules: their own metric names (61 teams x 7 services), unknown to every source.
FOREIGN_TEMPLATES = [
    'sum by (job) (rate({app}_http_requests_total{{code=~"5.."}}[5m])) '
    "/ sum by (job) (rate({app}_http_requests_total[5m])) > 0.05",
    "histogram_quantile(0.99, sum by (le, job) (rate({app}_request_duration_seconds_bucket[5m])))"
    " > 1",
    '{app}_queue_depth{{queue="default"}} > 100',
    "increase({app}_errors_total[10m]) > 5",
    "{app}_up == 0",
    "avg_over_time({app}_memory_usage_bytes[15m]) / {app}_memory_limit_bytes > 0.9",
    'rate(node_cpu_seconds_total{{mode="idle"}}[5m]) < 0.1',
]
FOREIGN_RULES = 518
SIDE_BY_SIDE_RUNS = 5


def generate(count: int) -> dict[str, object]:
    groups = []
    for g in range(count // 50):
        rules: list[dict[str, object]] = []
        for i in range(50):
            n = g * 50 + i
            expr = TEMPLATES[n % len(TEMPLATES)].format(svc=SERVICES[n % 7], n=n % 9 + 1)
            if n % 5 == 0:
                rules.append({"record": f"acgs:bench_{n}:rate1m", "expr": expr.split(" > ")[0]})
                continue
            rules.append(
                {
                    "alert": f"Bench{n}",
                    "expr": expr,
                    "for": "1m",
                    "labels": {"severity": ["critical", "warning", "info"][n % 3]},
                    "annotations": {
                        "summary": "{{ $labels.service }} at {{ $value | humanize }}",
                        "description": "generated",
                        "runbook_url": "https://example.org/runbook",
                    },
                }
            )
        groups.append({"name": f"bench-{g}", "rules": rules})
    return {"groups": groups}


def generate_foreign(count: int) -> dict[str, object]:
    rules = [
        {
            "alert": f"Foreign{n}",
            "expr": FOREIGN_TEMPLATES[n % len(FOREIGN_TEMPLATES)].format(
                app=f"team{n % 61}_svc{n % 7}"
            ),
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "s", "description": "d", "runbook_url": "https://x.org/r"},
        }
        for n in range(count)
    ]
    groups = [{"name": f"foreign-{i}", "rules": rules[i : i + 37]} for i in range(0, count, 37)]
    return {"groups": groups}


def _median(run: Callable[[], object]) -> float:
    times = []
    for _ in range(SIDE_BY_SIDE_RUNS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def side_by_side(tmp: Path) -> Table:
    """promtool check rules and the static checks on the same files, in one run."""
    foreign = tmp / "foreign.yml"
    foreign.write_text(yaml.safe_dump(generate_foreign(FOREIGN_RULES), sort_keys=False))
    ours = sorted((REPO_ROOT / "rules").glob("*.yml"))
    settings = LintSettings.from_file(REPO_ROOT / "rules" / "config" / "acgs-rules.yml")
    table = Table(title="issue 15: static checks vs promtool check rules (median of 5)")
    for column in ("rules", "count", "promtool s", "static s", "ratio", "command s", "ratio"):
        table.add_column(column, justify="left" if column == "rules" else "right")
    for label, files, used in (
        ("this repository's rules/", ours, settings),
        ("foreign, ~430 unknown metrics", [foreign], LintSettings()),
    ):
        names = [str(f) for f in files]
        check = ["promtool", "check", "rules", *names]
        promtool = _median(partial(subprocess.run, check, capture_output=True, check=True))
        result = lint(files, used, promtool=False)
        static = _median(partial(lint, files, used, promtool=False))
        command = _median(
            partial(measure_module, "acgs_rules.cli", "lint", "--no-promtool", *names)
        )
        table.add_row(
            label,
            f"{result.rules}",
            f"{promtool:.3f}",
            f"{static:.3f}",
            f"{static / promtool:.1f}x",
            f"{command:.3f}",
            f"{command / promtool:.1f}x",
        )
    return table


def write_rules(path: Path, count: int) -> None:
    path.write_text(yaml.dump(generate(count), sort_keys=False, Dumper=yaml.CSafeDumper))


def command_figures(tmp: Path) -> Table:
    """Time and peak RSS of the whole command, in a child process each."""
    table = Table(title="acgs-rules lint --no-promtool, whole command (child process)")
    for column in ("input", "file MB", "rules", "seconds", "peak RSS MB"):
        table.add_column(column, justify="left" if column == "input" else "right")
    inputs = []
    for count in (1000, 10000):
        path = tmp / f"rules-{count}.yml"
        write_rules(path, count)
        inputs.append((f"{count:,} rules", path))
    huge = tmp / "rules-50mb.yml"
    groups = (tmp / "rules-10000.yml").read_text().removeprefix("groups:\n")
    huge.write_text("groups:\n" + groups * (50 * 10**6 // len(groups) + 1))
    inputs.append(("50 MB file, default limit", huge))
    for label, path in inputs:
        run = measure_module(
            "acgs_rules.cli", "lint", "--no-promtool", "--format", "json", str(path)
        )
        rules = json.loads(run.stdout)["summary"]["rules"]
        size = path.stat().st_size / 10**6
        table.add_row(
            label, f"{size:.1f}", f"{rules:,}", f"{run.seconds:.2f}", f"{run.peak_rss_mib:.0f}"
        )
    return table


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yml"
        path.write_text(yaml.safe_dump(generate(RULES), sort_keys=False))
        settings = LintSettings()
        static_runs, load_runs, check_runs = [], [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            result = lint([path], settings, promtool=False)
            static_runs.append(time.perf_counter() - started)
            load_runs.append(result.timings["load"])
            check_runs.append(result.timings["static"])
        started = time.perf_counter()
        full = lint([path], settings, promtool=True)
        with_promtool = time.perf_counter() - started
        memory = command_figures(Path(tmp))
        compared = side_by_side(Path(tmp))
    static = statistics.median(static_runs)
    table = Table(title=f"acgs-rules lint: {result.rules} generated rules")
    table.add_column("measure")
    table.add_column("seconds", justify="right")
    table.add_column("vs 1 s target", justify="right")
    table.add_row("static checks (median of 5)", f"{static:.3f}", f"{static / TARGET_SECONDS:.2f}x")
    table.add_row("  loading (median)", f"{statistics.median(load_runs):.3f}", "")
    table.add_row("  checks (median)", f"{statistics.median(check_runs):.3f}", "")
    table.add_row("with promtool check rules", f"{with_promtool:.3f}", "")
    table.add_row("  of which promtool", f"{full.timings['promtool']:.3f}", "")
    console = Console()
    console.print(table)
    print(f"findings: {len(result.findings)} ({len(result.errors)} errors)")
    console.print(memory)
    console.print(compared)


if __name__ == "__main__":
    main()
