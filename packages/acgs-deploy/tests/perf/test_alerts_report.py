"""The alert-fatigue review against a real Prometheus evaluating test alerts every second."""

from __future__ import annotations

import time

from rich.console import Console

from acgs_deploy.alerts_report import alert_fatigue, merge_incidents, render_fatigue
from acgs_deploy.perf.detection import AlertmanagerAlerts
from acgs_testkit.waiting import wait_for

from ..conftest import Stack


def test_counts_flapping_and_steady_alerts(stack: Stack) -> None:
    # TestFlapping fires 3 s out of every 6: wait for at least three firing episodes.
    started = time.time()
    with stack.prometheus.client() as prom, stack.alertmanager.client() as am:

        def flapping_episodes() -> int:
            report = alert_fatigue(prom, None, window_s=time.time() - started + 30, step_s=1)
            # Not in the report before its first firing: no episode yet (not StopIteration).
            episodes = (a.firing_episodes for a in report.alerts if a.alertname == "TestFlapping")
            return next(episodes, 0)

        wait_for(lambda: flapping_episodes() >= 3, timeout_s=40)
        wait_for(lambda: "TestAlwaysFiring" in str(AlertmanagerAlerts(am).active()))
        report = alert_fatigue(prom, am, window_s=time.time() - started + 30, step_s=1)
    by_name = {a.alertname: a for a in report.alerts}
    flapping, steady = by_name["TestFlapping"], by_name["TestAlwaysFiring"]
    assert flapping.firing_episodes >= 3
    assert flapping.flapping
    assert 1 <= flapping.median_episode_s <= 5
    assert "keep_firing_for" in flapping.suggestion
    assert flapping.series == 1
    assert flapping.incidents == flapping.firing_episodes
    assert steady.firing_episodes == 1
    assert steady.incidents == 1
    assert not steady.flapping
    assert steady.active_in_alertmanager == 1
    assert report.noisiest[0].alertname == "TestFlapping"
    assert [a.alertname for a in report.flapping] == ["TestFlapping"]
    # Three label sets (one per scrape target) firing together: one incident, not flapping.
    per_target = by_name["TestPerTarget"]
    assert per_target.series == 3
    assert per_target.firing_episodes == 3
    assert per_target.incidents == 1
    assert not per_target.flapping
    console = Console(record=True, width=200)
    render_fatigue(report, console)
    assert "(flapping)" in console.export_text()
    assert report.as_dict()["flapping"] == ["TestFlapping"]


def test_overlapping_episodes_merge_into_incidents() -> None:
    # Seven label sets during one outage, then one of them again later.
    outage = [(100.0 + i, 160.0 + i) for i in range(7)]
    assert merge_incidents([*outage, (400.0, 420.0)]) == [(100.0, 166.0), (400.0, 420.0)]
    assert merge_incidents([(0.0, 10.0), (10.0, 20.0)]) == [(0.0, 20.0)]
    assert merge_incidents([]) == []
