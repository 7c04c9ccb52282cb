"""`invoke perf` and `invoke overhead` against the deployed stack.

`run_perf` measures, in this order: dashboard load (which also yields the load test's query
mix), monitoring overhead and scrape latency in the same quiet window, query latency under N
virtual users, and alert detection (when the demo services run). It prints a
target/measured/verdict table, writes `report.json` and two pictures into the report directory,
and says whether every target was met. `report.json` is written even when a phase fails (with
the error), and a run whose load generator used more than `GENERATOR_MAX_CORE_SHARE` of a core
is marked invalid: its latencies are the generator's queueing, not Prometheus'.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.client import (
    APIError,
    ComponentName,
    alertmanager_status,
    clear_faults,
    endpoint,
    inject_fault,
    rule_groups,
    stack_client,
)
from acgs_deploy.components import DEMO_PARTS
from acgs_deploy.errors import DeployError, UsageError
from acgs_deploy.instances import numbered_role
from acgs_deploy.perf import dashload, detection, overhead, scrape
from acgs_deploy.perf.loadgen import LoadResult, run_load
from acgs_deploy.perf.querymix import query_mix
from acgs_deploy.perf.report import (
    Check,
    all_passed,
    plot_latency_distribution,
    plot_latency_over_time,
    render_table,
    write_json,
)
from acgs_deploy.perf.stats import summarize, worst_window_success
from acgs_deploy.settings import StackSettings
from acgs_metrics.services import SERVICES
from acgs_promql.durations import parse_duration

if TYPE_CHECKING:
    from acgs_dashboards.queryload import DashboardLoad

__all__ = ["SIM_NOT_RUNNING", "PerfPlan", "generator_check", "run_overhead", "run_perf"]

QUERY_P95_TARGET_MS = 500.0
SUCCESS_TARGET = 0.95
SUCCESS_STRETCH = 0.999
# The servers of the single topology; with topology ha the first Prometheus and Alertmanager
# keep these names, so they are also "one of each" beside the whole ha topology.
SINGLE_TOPOLOGY = ("prometheus", "alertmanager", "node_exporter", "grafana")
# The query availability's worst stretch is measured over slices this long.
AVAILABILITY_WINDOW_S = 10.0
# The fault the detection test injects, on which service, and the alert it must raise.
DETECTION_FAULT = "compliance_drop"
DETECTION_SERVICE_INDEX = 4  # gs
DETECTION_ALERT = "ACGSComplianceScoreLow"
DETECTION_LABELS = {"service": "gs"}
# Above this share of one core the generator, not Prometheus, sets the latencies.
GENERATOR_MAX_CORE_SHARE = 0.8
SIM_NOT_RUNNING = "acgs-sim not running (deploy --demo)"


@dataclass(frozen=True)
class PerfPlan:
    """What `run_perf` measures and for how long (defaults: the guide's)."""

    users: int = 1000
    duration_s: float = 600.0
    think_s: float = 1.0
    dashboard_runs: int = 5
    overhead_window_s: float = 60.0
    detection_trials: int = 3


@dataclass
class _Results:
    """The table rows and the report's details, added to as each phase ends."""

    checks: list[Check] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def monitoring_pids(settings: StackSettings) -> dict[str, int]:
    """The running monitoring processes (not the demo services they watch): with topology
    ha every replica, peer, VictoriaMetrics and the query endpoint."""
    running = LocalBackend(settings).running()
    return {n: p for n, p in running.items() if n not in DEMO_PARTS}


def query_front(settings: StackSettings) -> ComponentName:
    """Where dashboards and users send queries: the query endpoint with topology ha."""
    return "query" if settings.topology == "ha" else "prometheus"


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress


def _route_group_wait(config_yaml: str, labels: Mapping[str, str]) -> float:
    """group_wait of the first child route matching `labels` (simple `k="v"` matchers)."""
    route = yaml.safe_load(config_yaml).get("route", {})
    group_wait = route.get("group_wait", "30s")
    for child in route.get("routes", []):
        matchers = child.get("matchers", [])
        pairs = [m.replace('"', "").split("=", 1) for m in matchers if "=~" not in m]
        if all(labels.get(k.strip()) == v.strip() for k, v in pairs):
            group_wait = child.get("group_wait", group_wait)
            break
    return parse_duration(str(group_wait))


def _rule_for_s(prometheus: httpx.Client, alertname: str) -> tuple[float, dict[str, str]]:
    for group in rule_groups(prometheus, "alert"):
        for rule in group["rules"]:
            if rule["name"] == alertname:
                return float(rule.get("duration", 0)), dict(rule.get("labels", {}))
    raise LookupError(f"alert {alertname} is not loaded in Prometheus: check rules/")


def detection_worst_case_s(
    settings: StackSettings, prometheus: httpx.Client, alertmanager: httpx.Client
) -> float:
    for_s, rule_labels = _rule_for_s(prometheus, DETECTION_ALERT)
    am_config = alertmanager_status(alertmanager)["config"]["original"]
    return detection.configured_worst_case_s(
        parse_duration(settings.acgs_scrape_interval),
        parse_duration(settings.evaluation_interval),
        for_s,
        _route_group_wait(am_config, {**rule_labels, **DETECTION_LABELS}),
    )


def clear_sim_faults(settings: StackSettings) -> None:
    """Clear the faults of every demo service, so detection starts from a quiet stack."""
    for index in range(len(SERVICES)):
        clear_faults(settings, index)


def _measure_detection(
    settings: StackSettings,
    prometheus: httpx.Client,
    alertmanager: httpx.Client,
    trials: int,
    progress: Progress,
) -> detection.DetectionResult:
    api = detection.AlertmanagerAlerts(alertmanager)
    source = detection.WebhookLog(settings.layout.webhook_log)
    source.firing(DETECTION_ALERT, DETECTION_LABELS, time.time())  # skip older deliveries
    am_config = yaml.safe_load(alertmanager_status(alertmanager)["config"]["original"])
    group_interval_s = parse_duration(str(am_config.get("route", {}).get("group_interval", "5m")))
    # The resolved notification is flushed within a group_interval; Alertmanager then drops
    # the empty aggregation group at its next maintenance pass, every 30 s. A new alert that
    # arrives before that joins the old group and waits for its next group_interval tick.
    settle_s = group_interval_s + detection.ALERTMANAGER_MAINTENANCE_S + 2

    task = progress.add_task("alert detection", total=trials, status=f"{trials} trials")
    clear_sim_faults(settings)
    result = detection.measure_detection(
        DETECTION_ALERT,
        DETECTION_LABELS,
        lambda: inject_fault(settings, DETECTION_SERVICE_INDEX, DETECTION_FAULT),
        lambda: clear_faults(settings, DETECTION_SERVICE_INDEX),
        source,
        quiet=lambda: api.gone(DETECTION_ALERT, DETECTION_LABELS),
        trials=trials,
        settle_s=settle_s,
        progress=lambda done: progress.update(task, completed=done),
    )
    worst = detection_worst_case_s(settings, prometheus, alertmanager)
    return detection.DetectionResult(result.alertname, result.times_s, result.timeouts, worst)


def prepare_report_dir(report_dir: Path | None) -> Path:
    """The report directory, created now, so a bad `--report` fails before any work."""
    path = report_dir or Path("reports") / time.strftime("perf-%Y%m%d-%H%M%S")
    if path.exists() and not path.is_dir():
        raise UsageError(f"--report {path} is a file: give a directory for report.json")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--report {path}: cannot create it ({error.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"--report {path}: not writable, give another directory")
    return path


def generator_check(load: LoadResult) -> Check:
    """Whether the load generator had CPU to spare; a saturated one invalidates the run."""
    share = load.generator_core_share
    measured = f"{share:.0%} of a core, {load.requests_per_s:.0f} req/s"
    target = f"< {GENERATOR_MAX_CORE_SHARE:.0%} of one core"
    if share > GENERATOR_MAX_CORE_SHARE:
        return Check("load generator saturated", target,
                     f"{measured}: run invalid, lower --users or raise --think", False)  # fmt: skip
    return Check("load generator CPU", target, measured, True)


def run_perf(
    settings: StackSettings, plan: PerfPlan, report_dir: Path | None, console: Console
) -> bool:
    """Every perf target against the deployed stack (see the module docstring); True when
    every one was met. A bad `report_dir` is a UsageError before any work."""
    report_dir = prepare_report_dir(report_dir)
    results = _Results(
        details={"users": plan.users, "duration_s": plan.duration_s, "think_s": plan.think_s}
    )
    load: LoadResult | None = None
    try:
        load = _measure_all(settings, plan, results, console)
    except BaseException as error:
        results.details["error"] = f"{type(error).__name__}: {error}"
        stopped = f"stopped: {results.details['error']}"
        results.checks.append(Check("run completed", "-", stopped, False))
        render_table(results.checks, console, "Performance: stopped early")
        raise
    finally:
        results.details["valid"] = load is not None and generator_check(load).passed is True
        write_json(report_dir / "report.json", results.checks, results.details)
        if load is None:
            console.print(f"partial report: {report_dir}/report.json")
    plot_latency_distribution(load.samples, report_dir / "latency-distribution.png",
                              QUERY_P95_TARGET_MS)  # fmt: skip
    plot_latency_over_time(load.samples, report_dir / "latency-over-time.png",
                           QUERY_P95_TARGET_MS)  # fmt: skip
    title = f"Performance: {plan.users} users for {plan.duration_s:.0f} s"
    render_table(results.checks, console, title)
    console.print(f"report: {report_dir}/report.json, latency-*.png")
    return all_passed(results.checks)


def _measure_all(
    settings: StackSettings, plan: PerfPlan, results: _Results, console: Console
) -> LoadResult:
    """The phases of `run_perf`, in order."""
    front = query_front(settings)
    dashboards = dashload.load_dashboards(settings.layout.config_dir / "grafana" / "dashboards")
    scrape_s = parse_duration(settings.scrape_interval)
    results.details["query_endpoint"] = front
    with (
        stack_client(settings, "prometheus") as prom,
        stack_client(settings, front) as queries,
        stack_client(settings, "alertmanager") as am,
        _progress(console) as progress,
    ):
        loads = _dashboard_load(dashboards, queries, plan, scrape_s, results, progress)
        _quiet_window(settings, prom, plan, scrape_s, results, progress)
        mix = query_mix(dashboards, loads)
        task = progress.add_task(f"{plan.users} users", total=plan.duration_s, status="")
        load = run_load(
            endpoint(settings, front), mix, plan.users, plan.duration_s, plan.think_s,
            progress=lambda elapsed, done: progress.update(
                task, completed=min(elapsed, plan.duration_s), status=f"{done} requests"),
        )  # fmt: skip
        _query_latency(load, results, front)
        results.details["load"]["mix"] = [asdict(q) for q in mix]
        _alert_detection(settings, prom, am, plan.detection_trials, results, progress)
    return load


def _dashboard_load(
    dashboards: list[dict[str, Any]],
    prom: httpx.Client,
    plan: PerfPlan,
    scrape_s: float,
    results: _Results,
    progress: Progress,
) -> list[DashboardLoad]:
    """Each dashboard loaded `dashboard_runs` times; returns the first load of each."""
    task = progress.add_task("dashboard load", total=len(dashboards) * plan.dashboard_runs,
                             status=f"{len(dashboards)} dashboards")  # fmt: skip
    timings, loads = dashload.measure_dashboards(
        dashboards, prom, plan.dashboard_runs, scrape_s,
        progress=lambda done: progress.update(task, completed=done),
    )  # fmt: skip
    for timing in timings:
        measured = f"{timing.p95_ms:.0f} ms" + (f", {len(timing.errors)} errors"
                                                if timing.errors else "")  # fmt: skip
        results.checks.append(Check(f"dashboard {timing.title} p95", "< 2000 ms", measured,
                                    timing.passed))  # fmt: skip
    results.details["dashboards"] = [asdict(t) | {"p95_ms": t.p95_ms} for t in timings]
    return loads


def _quiet_window(
    settings: StackSettings,
    prom: httpx.Client,
    plan: PerfPlan,
    scrape_s: float,
    results: _Results,
    progress: Progress,
) -> None:
    """Overhead and scrape latency in the same quiet window, before any load."""
    window_s = plan.overhead_window_s
    task = progress.add_task("overhead (quiet)", total=1.0, status=f"{window_s:.0f} s")
    usage = overhead.measure_overhead(
        monitoring_pids(settings), window_s,
        progress=lambda share: progress.update(task, completed=share),
    )  # fmt: skip
    results.checks += _overhead_checks(usage)
    one_of_each = usage.only(SINGLE_TOPOLOGY)
    results.details["overhead"] = asdict(usage) | {
        "cpu_share": usage.cpu_share,
        "memory_share": usage.memory_share,
        "single_topology": {"cpu_share": one_of_each.cpu_share,
                            "memory_share": one_of_each.memory_share},
    }  # fmt: skip
    # At least two scrapes of the slowest job, however short the window.
    scrape_window_s = max(usage.window_s, 2 * scrape_s)
    scrapes = scrape.scrape_latency(prom, scrape_window_s, end=time.time())
    for result in scrapes:
        results.checks.append(Check(f"scrape {result.job} p95", "< 100 ms",
                                    f"{result.p95_ms:.1f} ms", result.passed))  # fmt: skip
    results.details["scrape"] = [asdict(s) for s in scrapes]


def _query_latency(load: LoadResult, results: _Results, front: ComponentName) -> None:
    summary = summarize(load.samples)
    worst = worst_window_success(load.samples, AVAILABILITY_WINDOW_S)
    results.checks += [
        Check("query latency p95", "< 500 ms", f"{summary.p95_ms:.1f} ms",
              summary.p95_ms < QUERY_P95_TARGET_MS),
        Check("query success", "> 95 %", f"{summary.success_rate:.3%}",
              summary.success_rate > SUCCESS_TARGET),
        Check("query success (stretch)", ">= 99.9 %", f"{summary.success_rate:.3%}",
              None),
        Check("query latency p50 / p99", "-",
              f"{summary.p50_ms:.1f} / {summary.p99_ms:.1f} ms", None),
        Check(f"query availability via {front}, worst {AVAILABILITY_WINDOW_S:.0f} s", "-",
              f"{worst:.3%}", None),
        generator_check(load),
    ]  # fmt: skip
    results.details["load"] = {
        "requests": summary.count,
        "summary": asdict(summary) | {"success_rate": summary.success_rate},
        "availability": {
            "endpoint": front,
            "whole_run": summary.success_rate,
            "worst_window": worst,
            "window_s": AVAILABILITY_WINDOW_S,
        },
        "requests_per_s": load.requests_per_s,
        "generator_cpu_s": load.cpu_s,
        "generator_core_share": load.generator_core_share,
        "generator_machine_share": load.generator_machine_share,
        "errors": _error_counts(load.samples),
    }


def _alert_detection(
    settings: StackSettings,
    prom: httpx.Client,
    am: httpx.Client,
    trials: int,
    results: _Results,
    progress: Progress,
) -> None:
    checks, details = results.checks, results.details
    if not trials:
        _skip_detection(checks, details, "--detection-trials 0")
        return
    if "acgs-sim" not in LocalBackend(settings).running():
        _skip_detection(checks, details, SIM_NOT_RUNNING)
        return
    try:
        found = _measure_detection(settings, prom, am, trials, progress)
    except (APIError, OSError, httpx.HTTPError, LookupError, ValueError) as error:
        # TimeoutError (an OSError) included: the alert never went quiet.
        checks.append(Check("alert detection", "< 30 s", f"not measured: {error}", False))
        details["detection"] = {"error": f"{type(error).__name__}: {error}"}
        return
    worst = "-" if found.worst_case_s is None else f"{found.worst_case_s:.0f} s"
    measured = (f"max {max(found.times_s):.1f} s of {len(found.times_s)}"
                if found.times_s else "no alert arrived")  # fmt: skip
    if found.timeouts:
        measured += f", {found.timeouts} timed out"
    checks += [
        Check("alert detection", "< 30 s", measured, found.passed),
        Check("alert detection, configured worst case", "-", worst, None),
    ]
    details["detection"] = asdict(found)


def _skip_detection(checks: list[Check], details: dict[str, Any], reason: str) -> None:
    checks.append(Check("alert detection", "< 30 s", f"skipped: {reason}", None))
    details["detection"] = {"skipped": reason}


def _error_counts(samples: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sample in samples:
        if not sample.ok:
            counts[sample.error] = counts.get(sample.error, 0) + 1
    return counts


def _overhead_checks(usage: overhead.Overhead) -> list[Check]:
    """Against the targets: every monitoring process summed. With more than the single
    topology's servers running, one of each beside it, for comparison."""
    roles = Counter(numbered_role(p.name) for p in usage.processes)
    names = ", ".join(f"{n} x{roles[n]}" if roles[n] > 1 else n for n in roles)
    checks = [
        Check(f"monitoring CPU ({names})", "< 1 % of machine", f"{usage.cpu_share:.2%}",
              usage.cpu_share < overhead.TARGET_CPU_SHARE),
        Check("monitoring memory", "< 2 % of machine", f"{usage.memory_share:.2%}",
              usage.memory_share < overhead.TARGET_MEMORY_SHARE),
    ]  # fmt: skip
    one_of_each = usage.only(SINGLE_TOPOLOGY)
    if len(one_of_each.processes) < len(usage.processes):
        mine = ", ".join(p.name for p in one_of_each.processes)
        checks.append(Check(f"  beside: one of each, as the single topology ({mine})", "-",
                            f"{one_of_each.cpu_share:.2%} CPU, "
                            f"{one_of_each.memory_share:.2%} memory", None))  # fmt: skip
    return checks


def run_overhead(
    settings: StackSettings, window_s: float, output_format: str, console: Console
) -> bool:
    """The overhead check on its own (JSON or a table); True when under 1 % CPU and 2 % memory."""
    pids = monitoring_pids(settings)
    if not pids:
        raise DeployError("no monitoring process is running: deploy the stack first")
    # JSON goes to stdout alone; the progress bar then goes to stderr.
    progress_console = Console(stderr=True) if output_format == "json" else console
    with _progress(progress_console) as progress:
        task = progress.add_task("overhead", total=1.0, status=f"{window_s:.0f} s")
        usage = overhead.measure_overhead(
            pids, window_s, progress=lambda share: progress.update(task, completed=share)
        )
    checks = _overhead_checks(usage) + [
        Check(f"{p.name} (pid {p.pid})", "-",
              f"{p.cpu_share:.2%} CPU, {p.rss_bytes / 2**20:.0f} MiB", None)
        for p in usage.processes
    ]  # fmt: skip
    if output_format == "json":
        console.print_json(json.dumps({"passed": all_passed(checks), **asdict(usage),
                                       "cpu_share": usage.cpu_share,
                                       "memory_share": usage.memory_share}))  # fmt: skip
    else:
        render_table(checks, console, f"Monitoring overhead over {usage.window_s:.0f} s")
    return all_passed(checks)
