"""acgs_metrics against bare prometheus_client, in the same run: hot path, exposition, memory.

    uv run python packages/acgs-metrics/benchmarks/bench_instruments.py [--quick] [--json FILE]
    uv run nox -s bench -- bench_instruments

Both sides get the same registry: every catalog metric and the same 10,000 label sets (6,000
counter, 3,000 gauge, 1,000 histogram). Timings alternate the sides repeat by repeat (drift
hits both), subtract timeit's empty loop, and report median and min per call (exposition:
CPU time); ratios are acgs_metrics / baseline.

Targets: the cached-child hot path <= 1.15x; each GovernanceMetrics call <= 1.15x of the
same writes on cached children ("vs cached child" rows); exposition <= 0.5x (twice as fast,
same bytes: tests/test_rendering.py) in text and OpenMetrics, one process and multiprocess
(4 worker processes' files merged on each render). The guard lookup (a cache hit) is
compared with ``Counter.labels(...)``, which is what it replaces.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import make_wsgi_app as prometheus_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.openmetrics.exposition import generate_latest as om_generate_latest
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from acgs_metrics import (
    CATALOG,
    GovernanceMetrics,
    Instruments,
    LabelSpec,
    MetricSpec,
    MetricType,
    Unit,
)
from acgs_metrics.exposition import make_wsgi_app, render
from acgs_metrics.multiprocess import MultiprocessFiles
from acgs_metrics.schema import Catalog

# 10,000 label sets in all (--quick: a tenth, for a smoke run).
SERIES = {"counter": 6000, "gauge": 3000, "histogram": 1000}
_key = LabelSpec(name="key", description="bench key", pattern=r"k[0-9]+", max_values=10_000)
BENCH_SPECS = (
    MetricSpec(
        name="acgs_bench_events_total",
        type=MetricType.COUNTER,
        help="Bench events.",
        labels=(_key,),
        max_series=10_000,
    ),
    MetricSpec(
        name="acgs_bench_level",
        type=MetricType.GAUGE,
        help="Bench level.",
        labels=(_key,),
        max_series=10_000,
    ),
    MetricSpec(
        name="acgs_bench_wait_seconds",
        type=MetricType.HISTOGRAM,
        help="Bench wait.",
        unit=Unit.SECONDS,
        labels=(_key,),
        buckets=(0.01, 0.1, 1.0, 10.0),
        max_series=10_000,
    ),
)
BENCH_CATALOG: Catalog = CATALOG.extended(BENCH_SPECS)


def bare_metric(spec: MetricSpec, registry: CollectorRegistry) -> Any:
    """What a service would write by hand with prometheus_client for this spec."""
    kwargs: dict[str, Any] = {"labelnames": spec.label_names, "registry": registry}
    if spec.type is MetricType.COUNTER:
        return Counter(spec.name.removesuffix("_total"), spec.help, **kwargs)
    if spec.type is MetricType.GAUGE:
        return Gauge(spec.name, spec.help, **kwargs)
    assert spec.buckets is not None  # the catalog refuses a histogram without buckets
    return Histogram(spec.name, spec.help, buckets=spec.buckets, **kwargs)


def fill_ours(instruments: Instruments) -> None:
    for i in range(SERIES["counter"]):
        instruments.counter("acgs_bench_events_total").labels(f"k{i}").inc(i)
    for i in range(SERIES["gauge"]):
        instruments.gauge("acgs_bench_level").labels(f"k{i}").set(i)
    for i in range(SERIES["histogram"]):
        instruments.histogram("acgs_bench_wait_seconds").labels(f"k{i}").observe(i % 7)


def fill_bare(metrics: dict[str, Any]) -> None:
    for i in range(SERIES["counter"]):
        metrics["acgs_bench_events_total"].labels(f"k{i}").inc(i)
    for i in range(SERIES["gauge"]):
        metrics["acgs_bench_level"].labels(f"k{i}").set(i)
    for i in range(SERIES["histogram"]):
        metrics["acgs_bench_wait_seconds"].labels(f"k{i}").observe(i % 7)


@dataclass
class Row:
    group: str
    name: str
    ours: str
    baseline: str
    ours_median: float
    ours_min: float
    base_median: float
    base_min: float
    unit: str
    target: float | None

    @property
    def ratio_median(self) -> float:
        return self.ours_median / self.base_median

    @property
    def ratio_min(self) -> float:
        return self.ours_min / self.base_min


def loop_overhead_ns(number: int, repeats: int) -> float:
    runs = timeit.repeat("pass", number=number, repeat=repeats)
    return min(runs) / number * 1e9


def compare(
    ours: str,
    baseline: str,
    env: dict[str, Any],
    *,
    repeats: int,
    budget_s: float,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], list[float]]:
    """Per-call ns of both statements, alternating which runs first in each repeat."""
    ours_timer = timeit.Timer(ours, globals=env, timer=clock)
    base_timer = timeit.Timer(baseline, globals=env, timer=clock)
    number, _ = base_timer.autorange()  # calls that take at least 0.2 s
    number = max(1, int(number * budget_s / 0.2))
    overhead = loop_overhead_ns(number, 5)
    ours_ns: list[float] = []
    base_ns: list[float] = []
    for repeat in range(repeats):
        pair = [(ours_timer, ours_ns), (base_timer, base_ns)]
        for timer, out in pair if repeat % 2 else reversed(pair):
            out.append(timer.timeit(number) / number * 1e9 - overhead)
    return ours_ns, base_ns


def hot_path_cases() -> list[tuple[str, str, str, str, float | None]]:
    """(group, name, our statement, baseline statement, target ratio)."""
    return [
        (
            "hot path",
            "counter child inc()",
            "our_counter_child.inc()",
            "bare_counter_child.inc()",
            1.15,
        ),
        (
            "hot path",
            "histogram child observe()",
            "our_hist_child.observe(0.3)",
            "bare_hist_child.observe(0.3)",
            1.15,
        ),
        (
            "hot path",
            "gauge child set()",
            "our_gauge_child.set(0.5)",
            "bare_gauge_child.set(0.5)",
            1.15,
        ),
        (
            "lookup",
            "labels() cache hit vs Counter.labels()",
            "our_counter.labels('gs', 'success')",
            "bare_counter.labels('gs', 'success')",
            None,
        ),
        (
            "lookup",
            "labels().inc() vs Counter.labels().inc()",
            "our_counter.labels('gs', 'success').inc()",
            "bare_counter.labels('gs', 'success').inc()",
            None,
        ),
        (
            "lookup",
            "labels().observe() vs Histogram.labels().observe()",
            "our_hist.labels('gs', 'constitutional').observe(0.3)",
            "bare_hist.labels('gs', 'constitutional').observe(0.3)",
            None,
        ),
        (
            "facade",
            "record_action_cost vs labels().set + labels().inc",
            "governance.record_action_cost('proposal', 0.25)",
            "bare_cost.labels('proposal', 'gs').set(0.25)\n"
            "bare_actions.labels('proposal', 'gs').inc()",
            None,
        ),
        (
            "facade",
            "set_compliance_score vs Gauge.labels().set",
            "governance.set_compliance_score('P-001', 0.97)",
            "bare_score.labels('gs', 'P-001').set(0.97)",
            None,
        ),
        (
            "facade",
            "time_synthesis() vs Histogram.time() + Counter.inc",
            "with governance.time_synthesis('constitutional'): pass",
            "with bare_hist.labels('gs', 'constitutional').time(): pass\n"
            "bare_ops.labels('gs', 'constitutional', 'success').inc()",
            None,
        ),
    ] + [
        ("facade vs cached child", f"{name} vs cached child", ours, baseline, 1.15)
        for name, ours, baseline in FACADE_VS_CACHED_CHILD
    ]


# Each GovernanceMetrics call against the same writes on prometheus_client children that
# the caller looked up once and kept (the "cached_child" of the hot-path target).
FACADE_VS_CACHED_CHILD = (
    (
        "set_compliance_score",
        "governance.set_compliance_score('P-001', 0.97)",
        "bare_score_child.set(0.97)",
    ),
    (
        "record_action_cost",
        "governance.record_action_cost('proposal', 0.25)",
        "bare_cost_child.set(0.25); bare_actions_child.inc()",
    ),
    (
        "time_synthesis",
        "with governance.time_synthesis('constitutional'): pass",
        "with bare_hist_child.time(): pass\nbare_ops_child.inc()",
    ),
    (
        "record_synthesis",
        "governance.record_synthesis('constitutional', 0.3, 'success')",
        "bare_hist_child.observe(0.3); bare_ops_child.inc()",
    ),
    (
        "time_validation",
        "with governance.time_validation(): pass",
        "with bare_validation_duration_child.time(): pass\nbare_counter_child.inc()",
    ),
    (
        "count_validation",
        "governance.count_validation('success')",
        "bare_counter_child.inc()",
    ),
    (
        "record_decision",
        "governance.record_decision('policy_approval', 'approved', 0.3)",
        "bare_decision_child.inc(); bare_decision_duration_child.observe(0.3)",
    ),
    (
        "count_hash_validation",
        "governance.count_hash_validation('sha256', True)",
        "bare_hash_child.inc()",
    ),
    (
        "record_verification",
        "governance.record_verification(0.3, 'success')",
        "bare_verification_duration_child.observe(0.3); bare_verification_child.inc()",
    ),
    (
        "count_auth_attempt",
        "governance.count_auth_attempt('token', True)",
        "bare_auth_child.inc()",
    ),
    ("set_active_sessions", "governance.set_active_sessions(3)", "bare_gauge_child.set(3)"),
    (
        "count_evolution_cycle",
        "governance.count_evolution_cycle('success')",
        "bare_evolution_child.inc()",
    ),
    ("set_fitness", "governance.set_fitness(0.8)", "bare_fitness_child.set(0.8)"),
)


def wsgi_get(app: Callable[..., Any]) -> bytes:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""}
    return b"".join(app(environ, lambda status, headers: None))


def allocated_bytes(build: Callable[[], object]) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, kept


def timing_env(multiprocess_dir: Path) -> dict[str, Any]:
    """The objects the timed statements use: our instruments and the bare ones, filled alike."""
    ours_registry = CollectorRegistry()
    instruments = Instruments(BENCH_CATALOG, registry=ours_registry)
    instruments.register_all()
    bare_registry = CollectorRegistry()
    bare = {spec.name: bare_metric(spec, bare_registry) for spec in BENCH_CATALOG}
    fill_ours(instruments)
    fill_bare(bare)

    governance = GovernanceMetrics("gs", instruments)
    env: dict[str, Any] = {
        "governance": governance,
        "our_counter": instruments.counter("acgs_constitutional_validations_total"),
        "bare_counter": bare["acgs_constitutional_validations_total"],
        "our_hist": instruments.histogram("acgs_policy_synthesis_duration_seconds"),
        "bare_hist": bare["acgs_policy_synthesis_duration_seconds"],
        "bare_ops": bare["acgs_policy_synthesis_operations_total"],
        "bare_cost": bare["acgs_governance_action_cost_sol"],
        "bare_actions": bare["acgs_governance_actions_total"],
        "bare_score": bare["acgs_constitutional_compliance_score"],
    }
    env["our_counter_child"] = env["our_counter"].labels("gs", "success")
    env["bare_counter_child"] = env["bare_counter"].labels("gs", "success")
    env["our_hist_child"] = env["our_hist"].labels("gs", "constitutional")
    env["bare_hist_child"] = env["bare_hist"].labels("gs", "constitutional")
    env["our_gauge_child"] = instruments.gauge("acgs_active_sessions").labels("gs")
    env["bare_gauge_child"] = bare["acgs_active_sessions"].labels("gs")
    env["bare_cost_child"] = env["bare_cost"].labels("proposal", "gs")
    env["bare_actions_child"] = env["bare_actions"].labels("proposal", "gs")
    env["bare_ops_child"] = env["bare_ops"].labels("gs", "constitutional", "success")
    env["bare_score_child"] = env["bare_score"].labels("gs", "P-001")
    cached_children = {
        "bare_validation_duration_child": ("acgs_constitutional_validation_duration_seconds", "gs"),
        "bare_decision_child": (
            "acgs_governance_decisions_total",
            "gs",
            "policy_approval",
            "approved",
        ),
        "bare_decision_duration_child": (
            "acgs_governance_decision_duration_seconds",
            "gs",
            "policy_approval",
        ),
        "bare_hash_child": ("acgs_hash_validations_total", "gs", "sha256", "valid"),
        "bare_verification_child": ("acgs_formal_verifications_total", "gs", "success"),
        "bare_verification_duration_child": ("acgs_formal_verification_duration_seconds", "gs"),
        "bare_auth_child": ("acgs_auth_attempts_total", "gs", "token", "success"),
        "bare_evolution_child": ("acgs_evolution_cycles_total", "gs", "success"),
        "bare_fitness_child": ("acgs_evolution_fitness_ratio", "gs"),
    }
    for key, (metric, *values) in cached_children.items():
        env[key] = bare[metric].labels(*values)

    env.update(
        ours_registry=ours_registry,
        bare_registry=bare_registry,
        render=render,
        generate_latest=generate_latest,
        om_generate_latest=om_generate_latest,
        OM=OPENMETRICS,
        wsgi_get=wsgi_get,
        our_app=make_wsgi_app(ours_registry),
        bare_app=prometheus_wsgi_app(bare_registry),
    )
    env["mp_ours"], env["mp_bare"] = multiprocess_registries(multiprocess_dir)
    return env


OPENMETRICS = "application/openmetrics-text; version=1.0.0"
# (name, ours, baseline); each target <= 0.5x
EXPOSITION = (
    ("render() vs generate_latest()", "render(ours_registry)", "generate_latest(bare_registry)"),
    ("OpenMetrics render()", "render(ours_registry, OM)", "om_generate_latest(bare_registry)"),
    ("WSGI GET /metrics", "wsgi_get(our_app)", "wsgi_get(bare_app)"),
    ("multiprocess render()", "render(mp_ours)", "generate_latest(mp_bare)"),
    ("multiprocess OpenMetrics", "render(mp_ours, OM)", "om_generate_latest(mp_bare)"),
)
EXPOSITION_CASES = [("exposition", *case, 0.5) for case in EXPOSITION]

# A multiprocess worker: the bench's label sets, written as a gunicorn worker would.
WORKER = """
import sys
from prometheus_client import Counter, Gauge, Histogram
counter, gauge, histogram = (int(n) for n in sys.argv[1:4])
events = Counter("acgs_bench_events", "Bench events.", ["key"])
level = Gauge("acgs_bench_level", "Bench level.", ["key"], multiprocess_mode="livesum")
wait = Histogram("acgs_bench_wait_seconds", "Bench wait.", ["key"], buckets=(0.01, 0.1, 1, 10))
for i in range(counter):
    events.labels(f"k{i}").inc(i)
for i in range(gauge):
    level.labels(f"k{i}").set(i)
for i in range(histogram):
    wait.labels(f"k{i}").observe(i % 7)
"""
WORKERS = 4


def multiprocess_registries(directory: Path) -> tuple[CollectorRegistry, CollectorRegistry]:
    """Files of WORKERS real processes; (our merge, prometheus_client's merge) over them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    counts = [str(SERIES[kind]) for kind in ("counter", "gauge", "histogram")]
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, *counts], env=env) for _ in range(WORKERS)
    ]
    for worker in workers:
        if worker.wait(timeout=300) != 0:
            raise SystemExit("a multiprocess worker failed; see its output above")
    ours, bare = CollectorRegistry(), CollectorRegistry()
    ours.register(MultiprocessFiles(str(directory)))
    MultiProcessCollector(bare, path=str(directory))  # type: ignore[no-untyped-call]
    return ours, bare


def timed_row(
    case: tuple[str, str, str, str, float | None], env: dict[str, Any], *, quick: bool
) -> Row:
    """One case timed in alternating repeats; exposition cases are slower, so fewer, longer."""
    group, name, ours_stmt, base_stmt, target = case
    repeats = 3 if quick else 31
    budget = 0.005 if quick else 0.04
    slow = group == "exposition"
    ours_ns, base_ns = compare(
        ours_stmt,
        base_stmt,
        env,
        repeats=max(5, (repeats * 2) // 3) if slow else repeats,
        budget_s=budget * 2 if slow else budget,
        # Renders take milliseconds: CPU time, which other load on the machine leaves alone.
        clock=time.process_time if slow else time.perf_counter,
    )
    scale, unit = (1e-6, "ms") if slow else (1.0, "ns")
    return Row(
        group,
        name,
        ours_stmt,
        base_stmt,
        statistics.median(ours_ns) * scale,
        min(ours_ns) * scale,
        statistics.median(base_ns) * scale,
        min(base_ns) * scale,
        unit,
        target,
    )


def size_row(group: str, name: str, ours: float, base: float, unit: str) -> Row:
    """A measured size (no spread: median and min are the same figure)."""
    return Row(group, name, "", "", ours, ours, base, base, unit, None)


def run(quick: bool) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="acgs-bench-multiproc-") as directory:
        return measure(quick, timing_env(Path(directory)))


def measure(quick: bool, env: dict[str, Any]) -> list[Row]:
    cases = hot_path_cases() + EXPOSITION_CASES
    rows: list[Row] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("timing", total=len(cases) + 1)
        for case in cases:
            progress.update(task, description=case[1])
            rows.append(timed_row(case, env, quick=quick))
            progress.advance(task)

        progress.update(task, description="exposition size and memory")
        ours_body, _ = render(env["ours_registry"])
        bare_body = generate_latest(env["bare_registry"])
        # Same series; only the digits of _created timestamps differ.
        rows.append(
            size_row("exposition", "bytes (text format)", len(ours_body), len(bare_body), "B")
        )
        ours_mem, _ = allocated_bytes(lambda: build_ours_series())
        bare_mem, _ = allocated_bytes(lambda: build_bare_series())
        label_sets = f"{sum(SERIES.values()):,} label sets (tracemalloc)"
        rows.append(size_row("memory", label_sets, ours_mem / 1024, bare_mem / 1024, "KiB"))
        progress.advance(task)
    return rows


def build_ours_series() -> object:
    instruments = Instruments(BENCH_CATALOG, registry=CollectorRegistry())
    fill_ours(instruments)
    return instruments


def build_bare_series() -> object:
    registry = CollectorRegistry()
    metrics = {spec.name: bare_metric(spec, registry) for spec in BENCH_SPECS}
    fill_bare(metrics)
    return metrics


def show(rows: list[Row], console: Console) -> bool:
    table = Table(title="acgs_metrics vs prometheus_client (median and min of alternating repeats)")
    for column in (
        "group",
        "measurement",
        "acgs_metrics",
        "prometheus_client",
        "ratio (median)",
        "ratio (min)",
        "target",
    ):
        table.add_column(column, justify="left" if column in ("group", "measurement") else "right")
    met = True
    for row in rows:
        verdict = ""
        if row.target is not None:
            ok = row.ratio_min <= row.target
            met &= ok
            verdict = f"<= {row.target:.2f}x " + ("[green]met[/]" if ok else "[red]missed[/]")
        table.add_row(
            row.group,
            row.name,
            f"{row.ours_median:,.1f} {row.unit}",
            f"{row.base_median:,.1f} {row.unit}",
            f"{row.ratio_median:.3f}x",
            f"{row.ratio_min:.3f}x",
            verdict,
        )
    console.print(table)
    console.print(
        "Per-call times exclude timeit's empty loop. The 'lookup' rows compare our cached guard "
        "with prometheus_client's own label lookup; 'facade' rows with the code a service would "
        "otherwise write. Targets are judged on the min ratio, the one least "
        "disturbed by other load on a shared machine; the median is shown beside it."
    )
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few short repeats (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    console = Console()
    if not console.is_terminal:  # nox and CI logs: room for every column
        console = Console(width=150)
    if args.quick:
        for kind in SERIES:
            SERIES[kind] //= 10
    rows = run(args.quick)
    met = show(rows, console)
    if args.json:
        figures = [
            {**asdict(row), "ratio_median": row.ratio_median, "ratio_min": row.ratio_min}
            for row in rows
        ]
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    console.print("all targets met" if met else "[red]some targets missed[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
