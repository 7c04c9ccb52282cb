"""Builders for the ACGS dashboard patterns, on grafana-foundation-sdk.

A dashboard module in ``dashboards/`` should read as a short description::

    board = new_dashboard("acgs-overview", "ACGS services overview", "...")
    board.with_row(db.Row("Traffic"))
    board.with_panel(timeseries("Requests", "...", Query("sum(rate(...))"), unit="reqps"))

Conventions every helper follows, so that every dashboard follows them too:

- every panel and target points at the ``$datasource`` variable, never at a fixed uid;
- every panel has a description and a unit (derived from the catalog where a metric is named);
- rates use ``$__rate_interval``; selectors on ACGS metrics carry ``service=~"$service"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import gauge as gauge_builder
from grafana_foundation_sdk.builders import prometheus, stat
from grafana_foundation_sdk.builders import timeseries as timeseries_builder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from acgs_metrics import CATALOG, MetricSpec, MetricType

__all__ = [
    "DATASOURCE",
    "DATASOURCE_VARIABLE",
    "HTTP_DURATION",
    "HTTP_REQUESTS",
    "PROVISIONED_DATASOURCE_UID",
    "SERVICE_MATCHER",
    "Query",
    "availability",
    "error_ratio",
    "gauge",
    "instance_variable",
    "job_variable",
    "new_dashboard",
    "quantile_panel",
    "rate",
    "red_row",
    "service_variable",
    "slo_panels",
    "stat_panel",
    "timeseries",
    "unit_for",
]

# The provisioned Prometheus datasource has this uid on every ACGS Grafana (see provisioning).
PROVISIONED_DATASOURCE_UID = "acgs-prometheus"
DATASOURCE_VARIABLE = "datasource"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
SERVICE_MATCHER = 'service=~"$service"'

# Grafana 11.6 / 12.x dashboards; the SDK pin writes this schemaVersion.
SCHEMA_VERSION = 41


@dataclass(frozen=True)
class Query:
    """One PromQL target: the expression, its legend and whether it is an instant query."""

    expr: str
    legend: str = ""
    instant: bool = False


def unit_for(spec: MetricSpec) -> str:
    """The Grafana unit of a metric's values (``_seconds`` -> s, ratios -> percentunit)."""
    return spec.unit.grafana_unit


def rate(metric: str, selector: str = SERVICE_MATCHER, by: Sequence[str] = ()) -> str:
    """``sum by (...) (rate(metric{selector}[$__rate_interval]))``: the per-second rate."""
    spec = CATALOG.by_series_name().get(metric)
    if spec is not None and spec.type is MetricType.GAUGE:
        raise ValueError(f"{metric} is a gauge: rate() only makes sense on counters")
    grouping = f" by ({', '.join(by)})" if by else ""
    return f"sum{grouping} (rate({metric}{{{selector}}}[$__rate_interval]))"


# --- variables ---------------------------------------------------------------------------


def datasource_variable() -> db.DatasourceVariable:
    return (
        db.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Data source")
        .type("prometheus")
        .description("Prometheus to query; provisioned as uid " + PROVISIONED_DATASOURCE_UID)
        .current(
            dm.VariableOption(selected=True, text="Prometheus", value=PROVISIONED_DATASOURCE_UID)
        )
    )


def _label_variable(name: str, label: str, query: str, description: str) -> db.QueryVariable:
    return (
        db.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DATASOURCE)
        .query({"query": query, "refId": f"{name}-values", "qryType": 1})
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


def service_variable(metric: str = "acgs_http_requests_total") -> db.QueryVariable:
    """``$service``: the ACGS services that report ``metric``."""
    return _label_variable(
        "service",
        "Service",
        f"label_values({metric}, service)",
        "ACGS services to show (label 'service')",
    )


def job_variable(metric: str = "up") -> db.QueryVariable:
    return _label_variable(
        "job", "Job", f"label_values({metric}, job)", "Scrape jobs to show (label 'job')"
    )


def instance_variable(metric: str = "up", job_matcher: str = 'job=~"$job"') -> db.QueryVariable:
    return _label_variable(
        "instance",
        "Instance",
        f"label_values({metric}{{{job_matcher}}}, instance)",
        "Targets to show (label 'instance')",
    )


def new_dashboard(
    uid: str,
    title: str,
    description: str,
    *,
    tags: Iterable[str] = (),
    variables: Iterable[db.QueryVariable] = (),
    time_from: str = "now-1h",
) -> db.Dashboard:
    """A dashboard with our defaults: datasource variable first, UTC, shared crosshair."""
    board = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(sorted({"acgs", *tags}))
        .timezone("utc")
        .time(time_from, "now")
        .refresh("30s")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        # Code is the source: an edit in the UI would be lost on the next provisioning.
        .readonly()
        # A menu of every ACGS dashboard, carrying the time range and variables along.
        .link(
            db.DashboardLink("ACGS dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["acgs"])
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(True)
        )
        .with_variable(datasource_variable())
    )
    for variable in variables:
        board.with_variable(variable)
    return board


# --- panels ------------------------------------------------------------------------------


def _targets(queries: Sequence[Query]) -> list[prometheus.Dataquery]:
    if not queries:
        raise ValueError("a panel needs at least one query")
    targets = []
    for index, query in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .expr(query.expr)
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
            .editor_mode(pm.QueryEditorMode.CODE)
        )
        if query.legend:
            target.legend_format(query.legend)
        target.instant() if query.instant else target.range()
        targets.append(target)
    return targets


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def timeseries(
    title: str,
    description: str,
    *queries: Query,
    unit: str,
    width: int = 12,
    height: int = 8,
    limit: float | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    stacked: bool = False,
) -> timeseries_builder.Panel:
    """A time series panel; ``limit`` draws a red line at a target (100 ms, 99.9 %, ...)."""
    panel = (
        timeseries_builder.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(_targets(queries)))
        .unit(unit)
        .span(width)
        .height(height)
        .line_width(1)
        .fill_opacity(10)
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(
            cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)
        )
    )
    if min_value is not None:
        panel.min(min_value)
    if max_value is not None:
        panel.max(max_value)
    if stacked:
        panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    if limit is not None:
        panel.thresholds(_thresholds([(None, "green"), (limit, "red")]))
        panel.thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.LINE)
        )
    return panel


def stat_panel(
    title: str,
    description: str,
    *queries: Query,
    unit: str,
    steps: Sequence[tuple[float | None, str]] = ((None, "green"),),
    width: int = 6,
    height: int = 4,
) -> stat.Panel:
    """A single-value panel; ``steps`` colour it (value, colour), lowest first."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(_targets(queries)))
        .unit(unit)
        .span(width)
        .height(height)
        .thresholds(_thresholds(steps))
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.AREA)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def gauge(
    title: str,
    description: str,
    *queries: Query,
    unit: str,
    steps: Sequence[tuple[float | None, str]],
    min_value: float = 0,
    max_value: float = 1,
    width: int = 6,
    height: int = 6,
) -> gauge_builder.Panel:
    return (
        gauge_builder.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(_targets(queries)))
        .unit(unit)
        .min(min_value)
        .max(max_value)
        .span(width)
        .height(height)
        .thresholds(_thresholds(steps))
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def quantile_panel(
    spec: MetricSpec,
    title: str,
    description: str,
    *,
    by: Sequence[str] = ("service",),
    quantiles: Sequence[float] = (0.5, 0.95, 0.99),
    selector: str = SERVICE_MATCHER,
    limit: float | None = None,
    width: int = 12,
) -> timeseries_builder.Panel:
    """p50/p95/p99 (or ``quantiles``) of a catalog histogram, one line per ``by`` group."""
    if spec.type is not MetricType.HISTOGRAM:
        raise ValueError(f"{spec.name} is a {spec.type.value}, not a histogram")
    missing = [label for label in by if label not in spec.label_names]
    if missing:
        raise ValueError(f"{spec.name} has no label(s) {missing}; labels: {spec.label_names}")
    grouping = ", ".join(("le", *by))
    legend_labels = " ".join(f"{{{{{label}}}}}" for label in by)
    queries = [
        Query(
            f"histogram_quantile({q}, sum by ({grouping}) "
            f"(rate({spec.name}_bucket{{{selector}}}[$__rate_interval])))",
            legend=f"p{round(q * 100)} {legend_labels}".strip(),
        )
        for q in quantiles
    ]
    return timeseries(title, description, *queries, unit=unit_for(spec), limit=limit, width=width)


# --- patterns ----------------------------------------------------------------------------

HTTP_REQUESTS = CATALOG["acgs_http_requests_total"]
HTTP_DURATION = CATALOG["acgs_http_request_duration_seconds"]
ERROR_STATUS = 'status_code=~"5.."'


def error_ratio(
    selector: str = SERVICE_MATCHER, interval: str = "$__rate_interval", by: Sequence[str] = ()
) -> str:
    """Share of HTTP requests answered with 5xx, as the SLO recording rules compute it.

    0 for a service with requests and no 5xx series, and 0 rather than NaN (0/0) for one
    with no request in the interval: no request failed. Nothing for a service with no
    request series at all.
    """
    grouping = f" by ({', '.join(by)})" if by else ""
    name = HTTP_REQUESTS.name
    total = f"sum{grouping} (rate({name}{{{selector}}}[{interval}]))"
    errors = f"sum{grouping} (rate({name}{{{selector}, {ERROR_STATUS}}}[{interval}]))"
    return f"({errors} / ({total} > 0)) or 0 * {total}"


def availability(
    selector: str = SERVICE_MATCHER, interval: str = "$__rate_interval", by: Sequence[str] = ()
) -> str:
    """Share of HTTP requests not answered with 5xx (1 with no requests: not an outage)."""
    return f"1 - ({error_ratio(selector, interval, by)})"


def red_row(board: db.Dashboard, *, repeat_by: str = "service") -> db.Dashboard:
    """A row repeated per ``$service``: request rate, error ratio, latency quantiles."""
    one = f'service="${repeat_by}"'
    board.with_row(db.Row(f"Service ${repeat_by}").repeat(repeat_by))
    board.with_panel(
        timeseries(
            "Request rate",
            "HTTP requests per second, by route template.",
            Query(rate(HTTP_REQUESTS.name, one, by=("endpoint",)), legend="{{endpoint}}"),
            unit="reqps",
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Error ratio",
            "Share of HTTP requests answered with a 5xx status.",
            Query(error_ratio(one), legend="5xx"),
            unit="percentunit",
            min_value=0,
            limit=0.01,
            width=8,
        )
    )
    board.with_panel(
        quantile_panel(
            HTTP_DURATION,
            "Latency",
            "HTTP request duration quantiles; the red line is the guide's 500 ms target.",
            by=(),
            selector=one,
            limit=0.5,
            width=8,
        )
    )
    return board


# Recorded by rules/acgs-recording.yml: per-service 5xx ratio over each burn-rate window
# (0, not empty, for a service that serves without failing).
SLO_ERROR_RATIO = "acgs:slo_error_ratio:rate{window}"


def slo_error_ratio(window: str, selector: str = SERVICE_MATCHER) -> str:
    """The recorded 5xx ratio over ``window`` for the selected services."""
    return f"{SLO_ERROR_RATIO.format(window=window)}{{{selector}}}"


def slo_panels(
    board: db.Dashboard, *, objective: float = 0.999, window: str = "30d"
) -> db.Dashboard:
    """Availability against ``objective``, error budget left and burn rates.

    Availability and budget are computed over the time range shown, from the raw counter
    (the row title says so; pick the ``window`` in the time picker for the SLO itself);
    burn rates read the recording rules the burn-rate alerts use, so the panels show what
    the alerts see, and are relative to a ``window`` budget.
    """
    budget = 1 - objective

    def burn(rate_window: str, aggregate: str = "max") -> str:
        return f"{aggregate}({slo_error_ratio(rate_window)}) / {budget:g}"

    board.with_row(db.Row(f"Availability SLO {objective:.1%}: stats over the time range shown"))
    board.with_panel(
        stat_panel(
            "Availability (time range)",
            "Share of non-5xx HTTP requests over the time range shown; objective "
            f"{objective:.1%} over {window}: pick 'Last {window.removesuffix('d')} days' for "
            "the SLO window (the data must be retained that long).",
            Query(availability(interval="$__range"), instant=True),
            unit="percentunit",
            steps=((None, "red"), (objective, "green")),
            width=8,
        )
    )
    board.with_panel(
        stat_panel(
            "Error budget left (time range)",
            f"Fraction of the {budget:.1%} error budget not yet spent over the time range "
            f"shown (the SLO's budget is for {window}: pick that range for it).",
            Query(f"1 - ({error_ratio(interval='$__range')}) / {budget:g}", instant=True),
            unit="percentunit",
            steps=((None, "red"), (0.25, "orange"), (0.5, "green")),
            width=8,
        )
    )
    board.with_panel(
        stat_panel(
            "Burn rate (1h, worst service)",
            f"How fast the error budget burns: 1 spends it exactly over the {window} SLO "
            "window; 14.4 over 1h (with 5m agreeing) pages: 2 % of a 30-day budget in one hour.",
            Query(burn("1h"), instant=True),
            unit="short",
            steps=((None, "green"), (1, "orange"), (14.4, "red")),
            width=8,
        )
    )
    board.with_panel(
        timeseries(
            "Burn rate by window",
            "Worst service's burn rate over each window the burn-rate alerts pair up "
            "(1h/5m page at 14.4, 6h/30m at 6, 1d/2h and 3d/6h open tickets at 3 and 1).",
            *(Query(burn(w), legend=w) for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")),
            unit="short",
            limit=14.4,
            width=12,
        )
    )
    board.with_panel(
        timeseries(
            "Burn rate by service (1h)",
            "Each service's burn rate over the last hour; the line is the 14.4 page threshold.",
            Query(f"{slo_error_ratio('1h')} / {budget:g}", legend="{{service}}"),
            unit="short",
            limit=14.4,
            width=12,
        )
    )
    return board
