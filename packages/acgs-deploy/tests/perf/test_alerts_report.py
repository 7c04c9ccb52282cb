"""The alert-fatigue review against a real Prometheus evaluating test alerts every second."""

from __future__ import annotations

import time

from rich.console import Console

from acgs_deploy.alerts_report import alert_fatigue, render_fatigue
from acgs_deploy.perf.detection import AlertmanagerAlerts

from .conftest import Stack, wait_for


def test_counts_flapping_and_steady_alerts(stack: Stack) -> None:
    # TestFlapping fires 3 s out of every 6: wait for at least three firing episodes.
    started = time.time()
    with stack.prometheus.client() as prom, stack.alertmanager.client() as am:
        wait_for(
            lambda: (
                alert_fatigue(prom, None, window_s=time.time() - started + 30, step_s=1)
                .alerts[0]
                .firing_episodes
                >= 3
            ),
            timeout_s=40,
        )
        wait_for(lambda: "TestAlwaysFiring" in str(AlertmanagerAlerts(am).active()))
        report = alert_fatigue(prom, am, window_s=time.time() - started + 30, step_s=1)
    by_name = {a.alertname: a for a in report.alerts}
    flapping, steady = by_name["TestFlapping"], by_name["TestAlwaysFiring"]
    assert flapping.firing_episodes >= 3
    assert flapping.flapping
    assert 1 <= flapping.median_episode_s <= 5
    assert "keep_firing_for" in flapping.suggestion
    assert steady.firing_episodes == 1
    assert not steady.flapping
    assert steady.active_in_alertmanager == 1
    assert report.noisiest[0].alertname == "TestFlapping"
    assert [a.alertname for a in report.flapping] == ["TestFlapping"]
    console = Console(record=True, width=200)
    render_fatigue(report, console)
    assert "(flapping)" in console.export_text()
    assert report.as_dict()["flapping"] == ["TestFlapping"]
