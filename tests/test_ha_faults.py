"""The ha topology under faults, on real processes (``nox -s ha``; about 15 minutes).

One demo stack deployed by the local backend with ``topology: ha``: 2 Prometheus replicas,
3 Alertmanager peers, VictoriaMetrics fed by remote_write, HAProxy as the query endpoint,
acgs-sim and the webhook receiver, with short intervals (scrapes and rules every second).
The tests run in file order on it:

- exactly once: a fault gives one notification per alert group at the webhook, not one per
  Prometheus x Alertmanager;
- ``kill -9`` of one Prometheus and one Alertmanager, then a fault: still delivered, once,
  within the detection target; `invoke deploy` repairs both and the cluster has 3 peers again;
- a rolling restart of every component under query load through the query endpoint, with a
  fault injected: query success >= 99.9 %, the alert delivered once;
- VictoriaMetrics stopped for 5 minutes, then started: no gap for those minutes in its data
  (remote_write catches up from the WAL), and the query endpoint answered meanwhile;
- `invoke perf` sends its load through the query endpoint, reports the availability over the
  run and sums every server's overhead, beside one of each (the single topology's servers).

The figures are printed at the end of the module (and quoted in docs/topology.md).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from acgs_deploy import commands
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.client import (
    APIError,
    alertmanager_status,
    clear_faults,
    inject_fault,
    query,
    sim_url,
    stack_client,
    url_endpoint,
)
from acgs_deploy.components import components
from acgs_deploy.health import check_targets, expected_targets
from acgs_deploy.perf.detection import TARGET_S
from acgs_deploy.restart import rolling_restart
from acgs_deploy.settings import StackSettings
from acgs_deploy.webhook import read_notifications
from acgs_testkit.chaos import kill_9, repair
from acgs_testkit.load import NO_ANSWER, query_load
from acgs_testkit.stack import deployed_stack
from acgs_testkit.waiting import poll, wait_for

pytestmark = pytest.mark.ha

HA: dict[str, Any] = {
    "topology": "ha",
    "scrape_interval": "1s",
    "acgs_scrape_interval": "1s",
    "evaluation_interval": "1s",
    "alertmanager_maintenance_interval": "2s",
}
ALERT = "ACGSComplianceScoreLow"  # for: 10s, critical (group_wait 5s)
FAULT = "compliance_drop"
AC, GS, PGC = 1, 4, 5  # acgs-sim's services with compliance scores, by index
PEERS = 3
# A duplicate would come from a peer further down the cluster's order: Alertmanager's
# peer_timeout is 15 s per position, so the third peer sends, if at all, 30 s after the first.
DUPLICATE_WINDOW_S = 45
DELIVERY_TIMEOUT_S = 120
OUTAGE_S = 300  # VictoriaMetrics stopped this long
NOTICED_S = 10
SUCCESS_TARGET = 0.999
LOAD_QUERY = "sum by (job) (rate(scrape_samples_scraped[1m]))"


@dataclass
class Ha:
    settings: StackSettings
    figures: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Ha]:
    with deployed_stack(tmp_path_factory.mktemp("ha-stack"), **HA) as settings:
        state = Ha(settings)
        wait_for(lambda: _all_targets_up(settings), 90, "every target up", every_s=1)
        wait_for(lambda: _peers_listed(settings) == [PEERS] * PEERS, 60, "3 peers", every_s=1)
        yield state
        _print_figures(pytestconfig, state)


def _print_figures(config: pytest.Config, state: Ha) -> None:
    lines = ["", "ha figures:", *(f"  {k}: {v}" for k, v in state.figures.items())]
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n".join(lines))


def _all_targets_up(settings: StackSettings) -> bool:
    try:
        with stack_client(settings, "prometheus") as client:
            return check_targets(client, expected_targets(settings)).status == "ok"
    except APIError:
        return False


def _alertmanagers(settings: StackSettings) -> list[str]:
    """The URL of every Alertmanager peer the settings give."""
    return [
        c.url for c in components(settings, demo=True) if c.name.split("-")[0] == "alertmanager"
    ]


def _peers_listed(settings: StackSettings) -> list[int]:
    """How many peers each Alertmanager lists in its cluster status (-1: no answer)."""
    counts = []
    for url in _alertmanagers(settings):
        try:
            with url_endpoint(settings, url).client(5) as client:
                counts.append(len(alertmanager_status(client)["cluster"].get("peers") or []))
        except APIError:
            counts.append(-1)
    return counts


def _notifications(settings: StackSettings, service: str) -> list[dict[str, Any]]:
    """The firing notifications of ALERT's group for `service` received so far."""
    wanted = {"alertname": ALERT, "service": service}
    found = []
    for record in read_notifications(settings.layout.webhook_log):
        payload = record["payload"]
        if (
            isinstance(payload, dict)
            and payload.get("groupLabels") == wanted
            and payload.get("status") == "firing"
        ):
            found.append(payload)
    return found


def _delivered_once(ha: Ha, index: int, service: str, name: str) -> float:
    """Inject FAULT into `service` and wait for its notification; assert no second one
    comes in DUPLICATE_WINDOW_S. Seconds from the injection to the delivery."""
    settings = ha.settings
    assert _notifications(settings, service) == []
    injected = time.monotonic()
    inject_fault(settings, index, FAULT)
    try:
        wait_for(
            lambda: _notifications(settings, service),
            DELIVERY_TIMEOUT_S,
            f"{ALERT} for {service} at the webhook",
            every_s=0.2,
        )
        delivered_s = time.monotonic() - injected
        seen = poll(
            lambda: _notifications(settings, service), lambda n: len(n) > 1, DUPLICATE_WINDOW_S
        )
    finally:
        clear_faults(settings, index)
    ha.figures[f"{name}: notifications for the group"] = str(len(seen))
    ha.figures[f"{name}: fault to webhook s"] = f"{delivered_s:.1f}"
    assert len(seen) == 1, [n["alerts"] for n in seen]
    alerts = seen[0]["alerts"]
    # The replicas' copies are one alert: their `replica` label never reaches Alertmanager.
    assert all("replica" not in alert["labels"] for alert in alerts), alerts
    assert len({str(sorted(a["labels"].items())) for a in alerts}) == len(alerts)
    return delivered_s


def test_a_fault_gives_one_notification_per_group_not_six(ha: Ha) -> None:
    _delivered_once(ha, AC, "ac", "2 Prometheus x 3 Alertmanagers")


def test_kill_9_of_a_prometheus_and_an_alertmanager_still_delivers_once_then_deploy_repairs(
    ha: Ha,
) -> None:
    settings = ha.settings
    kill_9(settings, "prometheus")
    kill_9(settings, "alertmanager")
    delivered_s = _delivered_once(ha, GS, "gs", "after kill -9")
    assert delivered_s < TARGET_S
    report, deploy_s = repair(settings)
    assert report.actions["prometheus"] == "started"
    assert report.actions["alertmanager"] == "started"
    others = {n: a for n, a in report.actions.items() if n not in ("prometheus", "alertmanager")}
    assert set(others.values()) <= {"unchanged", "skipped"}, others
    wait_for(lambda: _peers_listed(settings) == [PEERS] * PEERS, 60, "3 peers again", every_s=1)
    wait_for(lambda: _all_targets_up(settings), 60, "every target up again", every_s=1)
    ha.figures["after kill -9: deploy s"] = f"{deploy_s:.1f}"
    ha.figures["after kill -9: peers listed"] = str(_peers_listed(settings))


def test_rolling_restart_under_query_load_keeps_queries_and_alerts(ha: Ha) -> None:
    settings = ha.settings
    pids = LocalBackend(settings).running()
    results: dict[str, float] = {}
    errors: list[BaseException] = []

    def sim_back() -> bool:
        running = LocalBackend(settings).running().get("acgs-sim")
        if running in (None, pids["acgs-sim"]):
            return False
        try:
            return httpx.get(f"{sim_url(settings, PGC)}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def fault_meanwhile() -> None:
        # Injected once acgs-sim (restarted first, with the webhook) serves again: a restart
        # clears its faults. The alert then fires while the servers restart.
        try:
            wait_for(sim_back, 120, "acgs-sim restarted and serving")
            results["delivered_s"] = _delivered_once(ha, PGC, "pgc", "rolling restart")
        except BaseException as error:  # shown by the test, not lost in the thread
            errors.append(error)

    with query_load(lambda: stack_client(settings, "query"), LOAD_QUERY, step="5") as statuses:
        faulting = threading.Thread(target=fault_meanwhile)
        faulting.start()
        started, began = time.monotonic(), time.time()
        report = rolling_restart(LocalBackend(settings))
        roll_s, ended = time.monotonic() - started, time.time()
        faulting.join()
    if errors:
        raise errors[0]
    answered = statuses.count(200)
    success = answered / len(statuses)
    ha.figures["rolling restart: s"] = f"{roll_s:.1f}"
    ha.figures["rolling restart: query success"] = (
        f"{success:.4%} ({answered} of {len(statuses)}; "
        f"no answer {statuses.count(NO_ANSWER)}, other {len(statuses) - answered})"
    )
    after = LocalBackend(settings).running()
    restarted = [s.name for s in report.components if s.action.startswith("restarted")]
    assert set(restarted) == set(pids), report.components
    moved = [name for name in pids if name != "query"]
    assert all(after[name] != pids[name] for name in moved), (pids, after)
    assert success >= SUCCESS_TARGET, ha.figures["rolling restart: query success"]
    assert "delivered_s" in results
    # Every restart behind it, VictoriaMetrics' own too, lost nothing a replica scraped.
    time.sleep(15)
    lost = poll(lambda: _lost(settings, began, ended), lambda g: g == [], 60, every_s=5)
    ha.figures["rolling restart: stretches missing in VictoriaMetrics"] = str(
        [(round(a - began, 1), round(b - began, 1)) for a, b in lost]
    )
    assert lost == []


EVIDENCE = 'up{job="node_exporter"}'


def _stamps(settings: StackSettings, url: str, start: float, end: float) -> list[float]:
    """The timestamps of EVIDENCE's raw samples between `start` and `end` at the server `url`."""
    window = int(end - start) + 1
    with url_endpoint(settings, url).client(30) as client:
        series = query(client, f"{EVIDENCE}[{window}s]", at=end)
    return sorted(float(t) for item in series for t, _ in item["values"] if start <= float(t))


def _lost(settings: StackSettings, start: float, end: float) -> list[tuple[float, float]]:
    """Stretches longer than 3 scrape intervals with no sample in VictoriaMetrics where a
    Prometheus replica has one (a stretch both replicas missed is not the store's loss)."""
    urls = [c.url for c in components(settings, demo=True) if c.name.startswith("prometheus")]
    replicas = sorted(t for url in urls for t in _stamps(settings, url, start, end))
    stored = [start, *_stamps(settings, _victoriametrics_url(settings), start, end), end]
    gaps = [(a, b) for a, b in itertools.pairwise(stored) if b - a > 3]
    return [(a, b) for a, b in gaps if any(a + 1 < t < b - 1 for t in replicas)]


def _victoriametrics_url(settings: StackSettings) -> str:
    return next(c.url for c in components(settings, demo=True) if c.name == "victoriametrics")


@pytest.mark.timeout(1200)
def test_victoriametrics_down_5_minutes_loses_nothing_and_queries_are_served(ha: Ha) -> None:
    settings = ha.settings
    backend = LocalBackend(settings)
    with query_load(lambda: stack_client(settings, "query"), LOAD_QUERY, step="5") as statuses:
        time.sleep(10)  # the earlier tests' restarts behind us
        stopped_at, before = time.time(), len(statuses)
        backend.stop(["victoriametrics"])
        # HAProxy's checks (every 2 s, down after 3 failures) see it gone within 6 s.
        time.sleep(NOTICED_S)
        noticed = len(statuses)
        time.sleep(OUTAGE_S - NOTICED_S)
        during = statuses[noticed:]
        first = statuses[before:noticed]
        failed = backend.start(["victoriametrics"])
        started_at = time.time()
    assert failed == {}
    start, end = stopped_at - 10, started_at + 10
    time.sleep(15)  # `end` in the past, and remote_write has had time to send it
    lost = poll(lambda: _lost(settings, start, end), lambda g: g == [], 120, every_s=5)
    answered = during.count(200)
    ha.figures["VictoriaMetrics down 5 min: queries answered meanwhile"] = (
        f"{answered} of {len(during)} ({answered / max(1, len(during)):.3%}); in the first "
        f"{NOTICED_S} s {first.count(200)} of {len(first)}"
    )
    ha.figures["VictoriaMetrics down 5 min: stretches missing in it (s from the stop)"] = str(
        [(round(a - stopped_at, 1), round(b - stopped_at, 1)) for a, b in lost]
    )
    assert lost == []
    assert answered / len(during) >= SUCCESS_TARGET


def test_perf_goes_through_the_query_endpoint_and_sums_every_server(ha: Ha, tmp_path: Path) -> None:
    console = Console(record=True, width=240)
    code = commands.perf(
        users=100, duration=10.0, report=tmp_path, dashboard_runs=1, quiet_window=10.0,
        detection_trials=1, settings=ha.settings, console=console,
    )  # fmt: skip
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["query_endpoint"] == "query"
    availability = report["load"]["availability"]
    assert availability["endpoint"] == "query"
    assert 0.95 < availability["whole_run"] <= 1
    assert availability["worst_window"] <= availability["whole_run"]
    measured = {p["name"] for p in report["overhead"]["processes"]}
    assert measured == {
        "prometheus", "prometheus-1", "alertmanager", "alertmanager-1", "alertmanager-2",
        "victoriametrics", "query", "node_exporter",
    }  # fmt: skip
    single = report["overhead"]["single_topology"]
    assert 0 < single["memory_share"] < report["overhead"]["memory_share"]
    assert report["detection"]["timeouts"] == 0
    text = console.export_text()
    assert "beside: one of each, as the single topology" in text
    ha.figures["perf (100 users, 10 s) query availability"] = (
        f"{availability['whole_run']:.3%}, worst 10 s {availability['worst_window']:.3%}"
    )
    ha.figures["perf overhead ha vs one of each"] = (
        f"CPU {report['overhead']['cpu_share']:.2%} vs {single['cpu_share']:.2%}, memory "
        f"{report['overhead']['memory_share']:.2%} vs {single['memory_share']:.2%}"
    )
    assert code == (0 if report["passed"] else 1)
