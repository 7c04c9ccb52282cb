"""`invoke perf`, `invoke overhead` and `invoke alerts-report` against the deployed stack.

`run_perf` measures, in this order: dashboard load (which also yields the load test's query
mix), monitoring overhead and scrape latency in the same quiet window, query latency under N
virtual users, and alert detection (when the demo services run). It prints a target/measured/verdict
table, writes `report.json` and two pictures into the report directory, and returns 1 when
a target is missed. `report.json` is written even when a phase fails (with the error), and a
run whose load generator used more than `GENERATOR_MAX_CORE_SHARE` of a core is marked
invalid: its latencies are the generator's queueing, not Prometheus'.

`run_command` is the tasks' entry point: it parses and checks the flags (given as strings
by invoke) before any work, and turns every problem the user can fix into one red line.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from acgs_deploy.alerts_report import alert_fatigue, render_fatigue
from acgs_deploy.client import (
    APIError,
    APIUnreachable,
    alertmanager_status,
    clear_faults,
    endpoint,
    inject_fault,
    rule_groups,
)
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
from acgs_deploy.perf.stats import summarize
from acgs_deploy.settings import StackSettings
from acgs_rules.promql import parse_duration

QUERY_P95_TARGET_MS = 500.0
SUCCESS_TARGET = 0.95
SUCCESS_STRETCH = 0.999
MONITORING_PROCESSES = ("prometheus", "alertmanager", "node_exporter", "grafana")
# The fault the detection test injects, on which service, and the alert it must raise.
DETECTION_FAULT = "compliance_drop"
DETECTION_SERVICE_INDEX = 4  # gs
DETECTION_ALERT = "ACGSComplianceScoreLow"
DETECTION_LABELS = {"service": "gs"}
# Above this share of one core the generator, not Prometheus, sets the latencies.
GENERATOR_MAX_CORE_SHARE = 0.8
SIM_NOT_RUNNING = "acgs-sim not running (deploy --demo)"


class UsageError(ValueError):
    """A flag value the user must change; exit code 2."""


def running_pids(settings: StackSettings) -> dict[str, int]:
    """Every running process of the stack, by component name."""
    from acgs_deploy.backends.local import LocalBackend

    return LocalBackend(settings).running()


def monitoring_pids(settings: StackSettings) -> dict[str, int]:
    """The running monitoring processes (not the demo services they watch)."""
    return {n: p for n, p in running_pids(settings).items() if n in MONITORING_PROCESSES}


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
    from acgs_metrics.services import SERVICES

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
    settings: StackSettings,
    users: int = 1000,
    duration_s: float = 600.0,
    report_dir: Path | None = None,
    think_s: float = 1.0,
    dashboard_runs: int = 5,
    overhead_window_s: float = 60.0,
    detection_trials: int = 3,
    console: Console | None = None,
) -> int:
    """Every perf target against the deployed stack; see the module docstring. 0 = all met."""
    console = console or Console()
    report_dir = prepare_report_dir(report_dir)
    checks: list[Check] = []
    details: dict[str, Any] = {"users": users, "duration_s": duration_s, "think_s": think_s}
    load: LoadResult | None = None
    try:
        load = _measure_all(
            settings, checks, details, users, duration_s, think_s, dashboard_runs,
            overhead_window_s, detection_trials, console,
        )  # fmt: skip
    except BaseException as error:
        details["error"] = f"{type(error).__name__}: {error}"
        checks.append(Check("run completed", "-", f"stopped: {details['error']}", False))
        render_table(checks, console, "Performance: stopped early")
        raise
    finally:
        details["valid"] = load is not None and generator_check(load).passed is True
        write_json(report_dir / "report.json", checks, details)
        if load is None:
            console.print(f"partial report: {report_dir}/report.json")
    plot_latency_distribution(load.samples, report_dir / "latency-distribution.png",
                              QUERY_P95_TARGET_MS)  # fmt: skip
    plot_latency_over_time(load.samples, report_dir / "latency-over-time.png",
                           QUERY_P95_TARGET_MS)  # fmt: skip
    render_table(checks, console, f"Performance: {users} users for {duration_s:.0f} s")
    console.print(f"report: {report_dir}/report.json, latency-*.png")
    return 0 if all_passed(checks) else 1


def _measure_all(
    settings: StackSettings,
    checks: list[Check],
    details: dict[str, Any],
    users: int,
    duration_s: float,
    think_s: float,
    dashboard_runs: int,
    overhead_window_s: float,
    detection_trials: int,
    console: Console,
) -> LoadResult:
    """The phases of `run_perf`, appending to `checks` and `details` as each one ends."""
    from acgs_deploy.client import stack_client

    prometheus = endpoint(settings, "prometheus")
    dashboards = dashload.load_dashboards(settings.layout.config_dir / "grafana" / "dashboards")
    scrape_s = parse_duration(settings.scrape_interval)
    with (
        stack_client(settings, "prometheus") as prom,
        stack_client(settings, "alertmanager") as am,
        _progress(console) as progress,
    ):
        task = progress.add_task("dashboard load", total=len(dashboards) * dashboard_runs,
                                 status=f"{len(dashboards)} dashboards")  # fmt: skip
        timings, loads = dashload.measure_dashboards(
            dashboards, prom, dashboard_runs, scrape_s,
            progress=lambda done: progress.update(task, completed=done),
        )  # fmt: skip
        for timing in timings:
            measured = f"{timing.p95_ms:.0f} ms" + (f", {len(timing.errors)} errors"
                                                    if timing.errors else "")  # fmt: skip
            checks.append(Check(f"dashboard {timing.title} p95", "< 2000 ms", measured,
                                timing.passed))  # fmt: skip
        details["dashboards"] = [asdict(t) | {"p95_ms": t.p95_ms} for t in timings]

        # Overhead and scrape latency in the same quiet window, before any load.
        task = progress.add_task("overhead (quiet)", total=1.0, status=f"{overhead_window_s:.0f} s")
        usage = overhead.measure_overhead(
            monitoring_pids(settings), overhead_window_s,
            progress=lambda share: progress.update(task, completed=share),
        )  # fmt: skip
        checks += _overhead_checks(usage)
        details["overhead"] = asdict(usage) | {"cpu_share": usage.cpu_share,
                                              "memory_share": usage.memory_share}  # fmt: skip
        # At least two scrapes of the slowest job, however short the window.
        scrape_window_s = max(usage.window_s, 2 * scrape_s)
        scrapes = scrape.scrape_latency(prom, scrape_window_s, end=time.time())
        for result in scrapes:
            checks.append(Check(f"scrape {result.job} p95", "< 100 ms", f"{result.p95_ms:.1f} ms",
                                result.passed))  # fmt: skip
        details["scrape"] = [asdict(s) for s in scrapes]

        mix = query_mix(dashboards, loads)
        task = progress.add_task(f"{users} users", total=duration_s, status="")
        load = run_load(
            prometheus, mix, users, duration_s, think_s,
            progress=lambda elapsed, done: progress.update(
                task, completed=min(elapsed, duration_s), status=f"{done} requests"),
        )  # fmt: skip
        summary = summarize(load.samples)
        checks += [
            Check("query latency p95", "< 500 ms", f"{summary.p95_ms:.1f} ms",
                  summary.p95_ms < QUERY_P95_TARGET_MS),
            Check("query success", "> 95 %", f"{summary.success_rate:.3%}",
                  summary.success_rate > SUCCESS_TARGET),
            Check("query success (stretch)", ">= 99.9 %", f"{summary.success_rate:.3%}",
                  None),
            Check("query latency p50 / p99", "-",
                  f"{summary.p50_ms:.1f} / {summary.p99_ms:.1f} ms", None),
            generator_check(load),
        ]  # fmt: skip
        details["load"] = {
            "requests": summary.count,
            "summary": asdict(summary) | {"success_rate": summary.success_rate},
            "requests_per_s": load.requests_per_s,
            "generator_cpu_s": load.cpu_s,
            "generator_core_share": load.generator_core_share,
            "generator_machine_share": load.generator_machine_share,
            "errors": _error_counts(load.samples),
            "mix": [asdict(q) for q in mix],
        }

        if not detection_trials:
            _skip_detection(checks, details, "--detection-trials 0")
        elif "acgs-sim" not in running_pids(settings):
            _skip_detection(checks, details, SIM_NOT_RUNNING)
        else:
            try:
                found = _measure_detection(settings, prom, am, detection_trials, progress)
            except (APIError, OSError, httpx.HTTPError, LookupError, ValueError) as error:
                # TimeoutError (an OSError) included: the alert never went quiet.
                checks.append(Check("alert detection", "< 30 s", f"not measured: {error}", False))
                details["detection"] = {"error": f"{type(error).__name__}: {error}"}
                return load
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
    return load


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
    names = ", ".join(p.name for p in usage.processes)
    return [
        Check(f"monitoring CPU ({names})", "< 1 % of machine", f"{usage.cpu_share:.2%}",
              usage.cpu_share < overhead.TARGET_CPU_SHARE),
        Check("monitoring memory", "< 2 % of machine", f"{usage.memory_share:.2%}",
              usage.memory_share < overhead.TARGET_MEMORY_SHARE),
    ]  # fmt: skip


def run_overhead(
    settings: StackSettings, window_s: float = 60.0, output_format: str = "text",
    console: Console | None = None,
) -> int:  # fmt: skip
    """The overhead check on its own: 0 when under 1 % CPU and 2 % memory."""
    console = console or Console()
    pids = monitoring_pids(settings)
    if not pids:
        console.print("[red]no monitoring process is running: deploy the stack first[/]")
        return 1
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
    return 0 if all_passed(checks) else 1


def run_alerts_report(
    settings: StackSettings, window_s: float = 86400.0, output_format: str = "text",
    console: Console | None = None,
) -> int:  # fmt: skip
    """The alert-fatigue review of the last `window_s` seconds; always 0 when it could run."""
    from acgs_deploy.client import stack_client

    console = console or Console()
    step_s = parse_duration(settings.evaluation_interval)
    with stack_client(settings, "prometheus") as prom, stack_client(settings, "alertmanager") as am:
        report = alert_fatigue(prom, am, window_s, step_s)
    if output_format == "json":
        console.print_json(json.dumps(report.as_dict()))
    else:
        render_fatigue(report, console)
    return 0


# Numeric flags: option name -> (flag, type, lowest value, whether the lowest is allowed).
NUMERIC_FLAGS: dict[str, tuple[str, type[int] | type[float], float, bool]] = {
    "users": ("--users", int, 1, True),
    "duration_s": ("--duration", float, 0, False),
    "think_s": ("--think", float, 0, True),
    "detection_trials": ("--detection-trials", int, 0, True),
    "overhead_window_s": ("--quiet-window", float, 0, False),
    "dashboard_runs": ("--dashboard-runs", int, 1, True),
    "window_s": ("--window", float, 0, False),
    "hours": ("--hours", float, 0, False),
}


def _number(option: str, value: object) -> int | float:
    flag, kind, lowest, inclusive = NUMERIC_FLAGS[option]
    what = "a whole number" if kind is int else "a number"
    bound = f"{'>=' if inclusive else '>'} {lowest:g}"
    try:
        if isinstance(value, bool):
            raise ValueError
        number = kind(value) if isinstance(value, str | int | float) else None
    except ValueError:
        number = None
    if (
        number is None
        or not math.isfinite(number)
        or (number < lowest if inclusive else number <= lowest)
    ):
        raise UsageError(f"{flag} must be {what} {bound}, got {value!r}")
    return number


def parse_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The tasks' flags (strings from invoke, or numbers from Python) checked and converted.

    `hours` (alerts-report) becomes `window_s`; `report_dir` becomes a Path.
    """
    parsed = dict(options)
    for option, value in options.items():
        if option in NUMERIC_FLAGS:
            parsed[option] = _number(option, value)
    if "output_format" in parsed and parsed["output_format"] not in ("text", "json"):
        raise UsageError(f"--format must be text or json, got {parsed['output_format']!r}")
    if "hours" in parsed:
        parsed["window_s"] = parsed.pop("hours") * 3600
    if parsed.get("report_dir") is not None:
        parsed["report_dir"] = Path(parsed["report_dir"])
    return parsed


def run_command(
    command: str,
    *,
    state_dir: Path | str | None = None,
    stack_file: Path | str | None = None,
    console: Console | None = None,
    **options: Any,
) -> int:
    """The entry point of the tasks `health`, `perf`, `overhead` and `alerts-report`.

    Checks the flags, loads the stack settings and runs the command. A bad flag is one red
    line and exit code 2, before any work; a problem the user can fix (no stack deployed,
    bad settings, a stopped server, a refused query) is one red line and exit code 1.
    """
    from acgs_dashboards.queryload import QueryLoadError
    from acgs_deploy.health import run_health
    from acgs_deploy.perf.loadgen import NotLoopback
    from acgs_deploy.secrets import SecretsError
    from acgs_deploy.settings import SettingsError

    commands: dict[str, Callable[..., int]] = {
        "health": run_health,
        "perf": run_perf,
        "overhead": run_overhead,
        "alerts-report": run_alerts_report,
    }
    errors = Console(stderr=True)
    if command not in commands:
        errors.print(f"[red]unknown command {command!r}[/]: one of {', '.join(commands)}")
        return 2
    try:
        parsed = parse_options(options)
        settings = StackSettings.load(state_dir, stack_file=stack_file)
        return int(commands[command](settings, console=console, **parsed))
    except UsageError as error:
        errors.print(f"[red]{command}: {error}[/]")
        return 2
    except (SettingsError, SecretsError, APIError, NotLoopback, LookupError, OSError,
            ValueError, httpx.HTTPError, QueryLoadError, psutil.Error,
            yaml.YAMLError) as error:  # fmt: skip
        errors.print(f"[red]{command}: {_describe(error)}[/]", highlight=False)
        return 1


def _describe(error: BaseException) -> str:
    """One line for the user: the message, with a hint when the stack is likely down."""
    text = str(error) or type(error).__name__
    if (
        isinstance(error, httpx.ConnectError | ConnectionError | APIUnreachable)
        or "did not answer" in text
    ):
        return f"{text}: is the stack running? (invoke status, invoke deploy)"
    return text
