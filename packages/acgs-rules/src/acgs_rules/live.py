"""``--prometheus``: read the live server before the checks run, and play the alerts back.

:class:`LiveSession` gives the metric index a live source, which fetches what the server
knows of every metric the rules read (types from its metadata; see
:mod:`acgs_promql.live.view`), then hands that view to the checks (``promql/series``,
``promql/label-value``, real scrape intervals for ``promql/range-window`` and
``alert/detection-latency``), takes the running configuration's intervals when no
``--prometheus-config`` was given, and backtests every alert (``alert/backtest``).
Long work shows progress on stderr; :func:`backtest_table` is the table people look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from acgs_promql.durations import format_duration
from acgs_promql.live.backtest import AlertBacktest, BacktestSpec, backtest
from acgs_promql.live.client import connect
from acgs_promql.live.source import LiveSource
from acgs_promql.live.view import fetch
from acgs_rules.context import LintContext
from acgs_rules.promconfig import read_config, with_intervals

__all__ = ["LIVE_CONFIG_ORIGIN", "LiveOptions", "LiveSession", "backtest_table"]

LIVE_CONFIG_ORIGIN = "the live Prometheus' /api/v1/status/config"


@dataclass(frozen=True)
class LiveOptions:
    url: str
    ca_file: Path | None = None
    concurrency: int = 8  # requests in flight at once
    lookback_s: float = 86_400.0  # series seen in this window count as present
    backtest_hours: float = 24.0  # 0: no backtest
    backtest_step_s: float = 60.0  # at least this far between backtest points
    flap_window_s: float = 1800.0  # a re-fire sooner than this after resolving is a flap
    max_fires: int = 5  # alert/backtest warns above this many fires in the window


def _specs(ctx: LintContext) -> list[BacktestSpec]:
    return [
        BacktestSpec(
            rule.name,
            rule.path,
            rule.line,
            rule.expr,
            rule.for_ or 0.0,
            rule.keep_firing_for or 0.0,
            ctx.group_interval(rule),
        )
        for rule in ctx.alerts()
        if ctx.tree(rule) is not None
    ]


class LiveSession:
    """One connection for a lint run: :attr:`source` for the metric index (it fetches when
    the index asks), then :meth:`finish` once the context exists. Raises
    :class:`~acgs_promql.live.client.LiveError` when the server cannot be read."""

    def __init__(self, options: LiveOptions, console: Console | None = None) -> None:
        self.options = options
        console = console or Console(stderr=True)
        # Only on a terminal: in CI logs and pipes a progress bar is noise.
        self._progress = Progress(console=console, transient=True, disable=not console.is_terminal)
        self._client = connect(options.url, options.ca_file, concurrency=options.concurrency)
        task = self._progress.add_task(f"reading metrics from {options.url}", total=None)
        self.source = LiveSource(
            self._client,
            lookback_s=options.lookback_s,
            concurrency=options.concurrency,
            advance=lambda n: self._progress.advance(task, n),
        )

    def __enter__(self) -> LiveSession:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
        self._client.close()

    def finish(self, ctx: LintContext) -> None:
        """Hand the live view to the checks, take the running configuration's intervals
        when none were given, and backtest the alerts."""
        view = self.source.view
        if view is None:  # the index asked nothing (no rule reads a metric)
            view = fetch(self._client, (), lookback_s=self.options.lookback_s)
        ctx.use_live(view)
        if not ctx.intervals_origin and view.config_yaml:
            config = read_config(view.config_yaml, LIVE_CONFIG_ORIGIN)
            ctx.settings = with_intervals(ctx.settings, config)
            ctx.intervals_origin = LIVE_CONFIG_ORIGIN
        if self.options.backtest_hours <= 0:
            return
        specs = _specs(ctx)
        task = self._progress.add_task(
            f"backtesting {len(specs)} alert(s) over {self.options.backtest_hours:g}h",
            total=len(specs),
        )
        results = backtest(
            self._client,
            specs,
            hours=self.options.backtest_hours,
            min_step_s=self.options.backtest_step_s,
            flap_window_s=self.options.flap_window_s,
            concurrency=self.options.concurrency,
            advance=lambda n: self._progress.advance(task, n),
        )
        ctx.backtests = {(r.spec.path, r.spec.line): r for r in results}
        ctx.backtest_max_fires = self.options.max_fires


def backtest_table(results: list[AlertBacktest], hours: float) -> Table:
    """One row per alert that would have fired (or whose query failed), the noisiest first:
    fires, flaps, series, time firing; the quiet ones are counted in the caption."""
    shown = [r for r in results if r.fires or r.error is not None]
    quiet = len(results) - len(shown)
    table = Table(
        title=f"backtest: the last {hours:g}h",
        caption=f"{quiet} other alert(s) would not have fired" if quiet else None,
    )
    for column in ("alert", "where"):
        table.add_column(column, overflow="fold")
    for column in ("fires", "flaps", "series", "firing", "step"):
        table.add_column(column, justify="right")
    for r in sorted(shown, key=lambda r: (-r.flaps, -r.fires, r.spec.name)):
        where = Text(f"{r.spec.path}:{r.spec.line}")
        if r.error is not None:
            table.add_row(Text(r.spec.name), where, "-", "-", "-", Text(r.error), "")
            continue
        table.add_row(
            Text(r.spec.name),
            where,
            str(r.fires),
            str(r.flaps),
            str(r.series),
            format_duration(round(r.firing_s)) if r.firing_s else "0s",
            format_duration(r.step_s),
        )
    return table
