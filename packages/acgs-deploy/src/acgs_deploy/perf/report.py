"""The perf report: a target/measured/pass-fail table, a JSON file, and latency pictures."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.table import Table

from acgs_deploy.perf.stats import Sample, percentile


@dataclass(frozen=True)
class Check:
    """One row of the table: what the guide promises, what we measured, and the verdict.

    `passed` is None for a figure reported beside a target (informational, never a failure).
    """

    name: str
    target: str
    measured: str
    passed: bool | None


def render_table(checks: Sequence[Check], console: Console, title: str) -> None:
    table = Table(title=title)
    table.add_column("check")
    table.add_column("target")
    table.add_column("measured", justify="right")
    table.add_column("result")
    verdicts = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: "[dim]info[/]"}
    for check in checks:
        table.add_row(check.name, check.target, check.measured, verdicts[check.passed])
    console.print(table)


def all_passed(checks: Sequence[Check]) -> bool:
    return all(check.passed is not False for check in checks)


def _finite(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, checks: Sequence[Check], details: dict[str, Any]) -> None:
    body = {
        "passed": all_passed(checks),
        "checks": [asdict(check) for check in checks],
        **details,
    }
    path.write_text(json.dumps(_finite(body), indent=2, sort_keys=False) + "\n")


def _pyplot() -> ModuleType:
    """matplotlib, for files only (no display). Imported when a picture is drawn: the import
    takes longer than a redeploy, and every command imports this module."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_latency_distribution(samples: Sequence[Sample], path: Path, target_ms: float) -> None:
    """Histogram of successful request latencies (log x axis), with p50/p95/p99 and the target."""
    plt = _pyplot()
    latencies = [s.latency_s * 1000 for s in samples if s.ok]
    figure, axes = plt.subplots(figsize=(9, 5))
    if latencies:
        low, high = max(min(latencies), 0.01), max(max(latencies), target_ms * 1.2)
        bins = [low * (high / low) ** (i / 60) for i in range(61)]
        axes.hist(latencies, bins=bins, color="#4c72b0")
        axes.set_xscale("log")
        for q, style in ((50, ":"), (95, "--"), (99, "-.")):
            value = percentile(latencies, q)
            axes.axvline(value, color="black", linestyle=style, label=f"p{q} {value:.1f} ms")
    axes.axvline(target_ms, color="red", label=f"target p95 < {target_ms:.0f} ms")
    axes.set_xlabel("latency (ms)")
    axes.set_ylabel("requests")
    axes.set_title(f"Query latency distribution ({len(samples)} requests)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_latency_over_time(samples: Sequence[Sample], path: Path, target_ms: float) -> None:
    """Each request as a dot at its start time; the p95 and failures per second over it."""
    plt = _pyplot()
    figure, (axes, rate_axes) = plt.subplots(
        2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ok = [s for s in samples if s.ok]
    axes.scatter([s.started_s for s in ok], [s.latency_s * 1000 for s in ok], s=1, alpha=0.3,
                 color="#4c72b0", label="request")  # fmt: skip
    seconds: dict[int, list[float]] = {}
    for sample in ok:
        seconds.setdefault(int(sample.started_s), []).append(sample.latency_s * 1000)
    if seconds:
        keys = sorted(seconds)
        axes.plot(keys, [percentile(seconds[k], 95) for k in keys], color="black",
                  label="p95 per second")  # fmt: skip
    axes.axhline(target_ms, color="red", label=f"target {target_ms:.0f} ms")
    axes.set_yscale("log")
    axes.set_ylabel("latency (ms)")
    axes.set_title("Query latency over the run")
    axes.legend(loc="upper right")
    counts: dict[int, list[int]] = {}
    for sample in samples:
        done = counts.setdefault(int(sample.started_s), [0, 0])
        done[0 if sample.ok else 1] += 1
    keys = sorted(counts)
    rate_axes.plot(keys, [counts[k][0] for k in keys], color="#55a868", label="ok/s")
    rate_axes.plot(keys, [counts[k][1] for k in keys], color="#c44e52", label="failed/s")
    rate_axes.set_xlabel("seconds since start")
    rate_axes.set_ylabel("requests/s")
    rate_axes.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
