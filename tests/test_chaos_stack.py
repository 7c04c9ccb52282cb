"""Faults under load on the whole local stack (``nox -s chaos``).

One demo stack (Prometheus, Alertmanager, node_exporter, acgs-sim, the webhook receiver)
deployed by the local backend with short intervals (scrapes and rules every second,
Alertmanager writing its state every 2 s), under background query load and acgs-sim's own
traffic. Each component in turn gets ``kill -9``, then the stack's deploy repairs it; then:

- no sample lost: raw samples a query returned before the kill, over a fixed past window, are
  all returned again after the repair (Prometheus' WAL);
- the silence made at the start is still there (Alertmanager writes it to disk);
- firing alerts still reach the webhook: an alert that fires while the webhook or Alertmanager
  is dead is delivered after the repair, and one delivered before Alertmanager's crash is not
  delivered again (its notification log survived).

The figures (repair time per component, samples compared, delivery time after the kill) are
printed at the end of the module.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.client import (
    APIError,
    alerts,
    clear_faults,
    inject_fault,
    query,
    stack_client,
)
from acgs_deploy.health import check_targets, expected_targets
from acgs_deploy.settings import StackSettings
from acgs_deploy.webhook import read_notifications
from acgs_testkit.chaos import kill_9, repair
from acgs_testkit.load import NO_ANSWER, query_load
from acgs_testkit.silences import live_silence_ids, make_silence
from acgs_testkit.stack import deployed_stack
from acgs_testkit.waiting import poll, wait_for

pytestmark = pytest.mark.chaos

MAINTENANCE_S = 2
SHORT_INTERVALS: dict[str, Any] = {
    "scrape_interval": "1s",
    "acgs_scrape_interval": "1s",
    "evaluation_interval": "1s",
    "alertmanager_maintenance_interval": f"{MAINTENANCE_S}s",
}
PARTS = ("prometheus", "alertmanager", "node_exporter", "webhook", "acgs-sim")
# Raw samples of these, over WINDOW_S before a moment just ahead of the kill, must all be
# there after the repair: every target's scrapes, and the demo services' request counters.
EVIDENCE = ("up", "scrape_samples_scraped", "acgs_http_requests_total")
WINDOW_S = 90
# Scrapes take well under this: every sample stamped before it is in the TSDB when we ask.
SETTLED_S = 5
LOAD_QUERY = "sum by (job) (rate(scrape_samples_scraped[1m]))"
ALERT = "ACGSHighErrorRate"  # critical: Alertmanager waits 5 s (group_wait) before sending
AC, GS, PGC = 1, 4, 5  # acgs-sim's services by index
# Prometheus sends a firing alert again every minute (--rules.alert.resend-delay), and a
# failed flush is retried by Alertmanager at the next group_interval (1m): the worst case.
DELIVERY_TIMEOUT_S = 150


@dataclass
class Chaos:
    settings: StackSettings
    silence: str
    load: list[int]
    figures: dict[str, dict[str, float]] = field(default_factory=dict)


def _all_targets_up(settings: StackSettings) -> bool:
    try:
        with stack_client(settings, "prometheus") as client:
            return check_targets(client, expected_targets(settings)).status == "ok"
    except APIError:  # Prometheus itself may still be starting
        return False


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Chaos]:
    with deployed_stack(tmp_path_factory.mktemp("chaos-stack"), **SHORT_INTERVALS) as settings:
        wait_for(lambda: _all_targets_up(settings), 60, "every target up", every_s=1)
        # Enough history that the first crash has a few hundred samples to compare.
        wait_for(
            lambda: sum(map(len, _evidence(settings, time.time() - SETTLED_S).values())) > 300,
            60,
            "settled samples",
            every_s=1,
        )
        with stack_client(settings, "alertmanager") as am:
            silence = make_silence(am, {"alertname": "ChaosNeverFires"}, hours=2)
        with query_load(
            lambda: stack_client(settings, "prometheus"), LOAD_QUERY, window_s=300, step="5"
        ) as load:
            state = Chaos(settings, silence, load)
            yield state
        _print_figures(pytestconfig, state)


def _print_figures(config: pytest.Config, state: Chaos) -> None:
    lines = ["", "chaos figures (kill -9, then deploy):"]
    for name, figures in state.figures.items():
        lines.append(f"  {name}: " + ", ".join(f"{k} {v:g}" for k, v in figures.items()))
    answered = sum(status != NO_ANSWER for status in state.load)
    lines.append(f"  query load: {len(state.load)} requests, {answered} answered")
    # Shown whatever the capture mode: they are the figures for the note.
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n".join(lines))


def _evidence(settings: StackSettings, at: float) -> dict[tuple[Any, ...], set[tuple[float, str]]]:
    """Every raw sample of EVIDENCE stamped in the WINDOW_S before ``at``, by series."""
    found: dict[tuple[Any, ...], set[tuple[float, str]]] = {}
    with stack_client(settings, "prometheus", timeout=30) as client:
        for selector in EVIDENCE:
            for series in query(client, f"{selector}[{WINDOW_S}s]", at=at):
                key = (selector, *sorted(series["metric"].items()))
                found[key] = {(float(ts), value) for ts, value in series["values"]}
    return found


def _crash_and_repair(
    chaos: Chaos, name: str, while_down: Callable[[], None] | None = None
) -> float:
    """kill -9 ``name``, run ``while_down``, repair with the stack's deploy, and check that no
    sample was lost, the silence is kept and everything is healthy again; returns the
    monotonic time of the kill."""
    settings = chaos.settings
    at = time.time() - SETTLED_S
    before = _evidence(settings, at)
    compared = sum(len(samples) for samples in before.values())
    assert compared > 0, "no samples to compare: the evidence queries returned nothing"
    killed = time.monotonic()
    kill_9(settings, name)
    if while_down is not None:
        while_down()
    report, deploy_s = repair(settings)
    deployed = time.monotonic()
    assert report.actions[name] == "started", report.actions
    untouched = {p: report.actions[p] for p in PARTS if p != name}
    assert set(untouched.values()) == {"unchanged"}, untouched
    states = {c.name: c.state for c in LocalBackend(settings).status().components}
    assert {states[p] for p in PARTS} == {"healthy"}, states
    wait_for(lambda: _all_targets_up(settings), 60, f"every target up after {name}", every_s=0.5)
    repaired_s = time.monotonic() - deployed + deploy_s

    after = _evidence(settings, at)
    lost = {
        key: sorted(samples - after.get(key, set()))[:3]
        for key, samples in before.items()
        if samples - after.get(key, set())
    }
    assert lost == {}, f"samples lost after kill -9 of {name}: {lost}"
    with stack_client(settings, "alertmanager") as am:
        assert chaos.silence in live_silence_ids(am)
    chaos.figures[name] = {
        "deploy s": round(deploy_s, 2),
        "deploy start to all targets up s": round(repaired_s, 2),
        "samples compared": compared,
    }
    return killed


# --- notifications at the webhook ------------------------------------------------------------


def _notifications(settings: StackSettings, service: str) -> list[dict[str, Any]]:
    """The firing notifications of ALERT's group for ``service`` received so far."""
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


def _firing_in_prometheus(settings: StackSettings, service: str) -> bool:
    expr = f'ALERTS{{alertname="{ALERT}", service="{service}", alertstate="firing"}}'
    with stack_client(settings, "prometheus") as client:
        return bool(query(client, expr))


def _held_by_alertmanager(settings: StackSettings, service: str) -> bool:
    with stack_client(settings, "alertmanager") as client:
        return any(
            a["labels"].get("alertname") == ALERT and a["labels"].get("service") == service
            for a in alerts(client)
        )


# --- the crashes, one component at a time ----------------------------------------------------


def test_node_exporter_kill_loses_no_sample(chaos: Chaos) -> None:
    _crash_and_repair(chaos, "node_exporter")


def test_acgs_sim_kill_loses_no_sample(chaos: Chaos) -> None:
    _crash_and_repair(chaos, "acgs-sim")


def test_an_alert_fired_while_the_webhook_is_dead_arrives_after_the_repair(chaos: Chaos) -> None:
    settings = chaos.settings
    service = "pgc"
    assert _notifications(settings, service) == []

    def fire() -> None:
        inject_fault(settings, PGC, "error_rate")
        # Alertmanager holds it and is failing to deliver it to the dead receiver.
        wait_for(lambda: _held_by_alertmanager(settings, service), 60, f"{ALERT} {service}", 1)

    try:
        killed = _crash_and_repair(chaos, "webhook", while_down=fire)
        repaired = time.monotonic()
        wait_for(
            lambda: _notifications(settings, service),
            DELIVERY_TIMEOUT_S,
            f"{ALERT} for {service} at the repaired webhook",
            every_s=0.5,
        )
    finally:
        clear_faults(settings, PGC)
    now = time.monotonic()
    chaos.figures["webhook"]["delivery after repair s"] = round(now - repaired, 1)
    chaos.figures["webhook"]["delivery after kill s"] = round(now - killed, 1)


def test_prometheus_kill_loses_no_acknowledged_sample_under_query_load(chaos: Chaos) -> None:
    answered_before = chaos.load.count(200)
    _crash_and_repair(chaos, "prometheus")
    # The load kept running through the crash and is answered again.
    wait_for(lambda: chaos.load.count(200) > answered_before + 10, 30, "query load answered")
    assert set(chaos.load) <= {200, 503, NO_ANSWER}, sorted(set(chaos.load))
    assert NO_ANSWER in chaos.load


def test_alertmanager_kill_keeps_silences_and_delivers_each_group_once(chaos: Chaos) -> None:
    settings = chaos.settings
    try:
        # A group notified before the crash ...
        inject_fault(settings, GS, "error_rate")
        wait_for(lambda: _notifications(settings, "gs"), 90, f"{ALERT} gs at the webhook", 0.5)
        with stack_client(settings, "alertmanager") as am:
            fresh = make_silence(am, {"alertname": "ChaosFreshSilence"})
        # ... and the silence made after it are on disk after one maintenance interval.
        time.sleep(MAINTENANCE_S + 1)

        def fire() -> None:
            # A fault while Alertmanager is dead: Prometheus fails to send the alert.
            inject_fault(settings, AC, "error_rate")
            wait_for(lambda: _firing_in_prometheus(settings, "ac"), 60, f"{ALERT} ac firing", 1)

        killed = _crash_and_repair(chaos, "alertmanager", while_down=fire)
        repaired = time.monotonic()
        wait_for(
            lambda: _notifications(settings, "ac"),
            DELIVERY_TIMEOUT_S,
            f"{ALERT} for ac after the repair",
            every_s=0.5,
        )
        delivered = time.monotonic()
        with stack_client(settings, "alertmanager") as am:
            assert fresh in live_silence_ids(am)
        # Prometheus has sent the gs alert to the new Alertmanager: past its group_wait the
        # notification log read back from disk must keep it from being sent again.
        wait_for(lambda: _held_by_alertmanager(settings, "gs"), 90, "gs alert re-sent", 1)
        gs = poll(lambda: _notifications(settings, "gs"), lambda n: len(n) > 1, 15)
    finally:
        clear_faults(settings, GS)
        clear_faults(settings, AC)
    assert len(gs) == 1, [n["alerts"][0]["startsAt"] for n in gs]
    assert len(_notifications(settings, "ac")) == 1
    figures = chaos.figures["alertmanager"]
    figures["delivery after repair s"] = round(delivered - repaired, 1)
    figures["delivery after kill s"] = round(delivered - killed, 1)
