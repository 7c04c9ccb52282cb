"""The running stack's scrape targets, read from its Prometheus, each with the model that
writes its history (:mod:`acgs_deploy.backfill.models`)."""

from __future__ import annotations

import zlib

import httpx

from acgs_deploy.backfill.models import (
    LiveModel,
    LiveSeries,
    ServiceModel,
    TargetModel,
    is_counter,
    plan_incidents,
)
from acgs_deploy.client import api_get, query
from acgs_promql.durations import parse_duration

__all__ = ["SCRAPE_SERIES", "target_models"]

# Series Prometheus writes itself for every scrape; the models write these, not the targets.
SCRAPE_SERIES = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    }
)
# How far back the live series' rates are measured.
RATE_WINDOW = "10m"


def target_models(client: httpx.Client, start: float, end: float, seed: int) -> list[TargetModel]:
    """A model per active target; the ACGS services share one plan of incidents."""
    targets = api_get(client, "/api/v1/targets", {"state": "active"})["activeTargets"]
    services = sorted({t["labels"]["service"] for t in targets if "service" in t["labels"]})
    incidents = plan_incidents(services, start, end, seed)
    models: list[TargetModel] = []
    for target in sorted(targets, key=lambda t: sorted(t["labels"].items())):
        labels: dict[str, str] = dict(target["labels"])
        interval_s = parse_duration(target.get("scrapeInterval") or "15s")
        target_seed = seed ^ zlib.crc32(repr(sorted(labels.items())).encode())
        if "service" in labels:
            mine = [i for i in incidents if i.service == labels["service"]]
            models.append(ServiceModel(labels, interval_s, mine, target_seed))
        else:
            series = live_series(client, labels)
            models.append(LiveModel(labels, interval_s, series, start, target_seed))
    return models


def live_series(client: httpx.Client, target: dict[str, str]) -> list[LiveSeries]:
    """The target's series now, with each counter's rate over the last RATE_WINDOW."""
    selector = ",".join(f'{name}="{_escape(value)}"' for name, value in sorted(target.items()))
    found: list[LiveSeries] = []
    for series in query(client, f"{{{selector}}}[{RATE_WINDOW}]"):
        metric = dict(series["metric"])
        name = metric.pop("__name__", "")
        if not name or name in SCRAPE_SERIES or name.endswith("_created"):
            continue
        values = [(float(t), float(v)) for t, v in series["values"]]
        (first_t, first_v), (last_t, last_v) = values[0], values[-1]
        rate = 0.0
        if is_counter(name) and last_t > first_t:
            rate = max(0.0, last_v - first_v) / (last_t - first_t)
        found.append(LiveSeries(name, tuple(sorted(metric.items())), last_v, rate))
    return found


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
