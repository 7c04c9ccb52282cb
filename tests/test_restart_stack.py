"""`invoke restart --rolling` on the single topology, real processes (``nox -s stack``).

One demo stack deployed by the local backend; the tests run in file order on it:
- a stack with a component down is refused and nothing is stopped; with --force the running
  ones are restarted and the stopped one is left stopped (a deploy then starts it);
- a configuration that fails its checks, or settings changed since the deploy, are refused
  before anything is stopped;
- a component that does not come back ends the roll there: the ones after it keep running;
- a roll restarts every component (new pids), each healthy again, Prometheus keeps its
  samples, and the report says each restart was an outage on this topology.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console

from acgs_deploy import backends, commands
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.client import query, stack_client
from acgs_deploy.errors import DeployError
from acgs_deploy.process import ProcessSpec
from acgs_deploy.restart import SINGLE_TOPOLOGY_NOTE, plan_restart, roll
from acgs_deploy.settings import StackSettings
from acgs_testkit.chaos import kill_9
from acgs_testkit.stack import deployed_stack
from acgs_testkit.waiting import wait_for

pytestmark = pytest.mark.stack

PARTS = ("webhook", "acgs-sim", "node_exporter", "alertmanager", "prometheus")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    with deployed_stack(tmp_path_factory.mktemp("restart-stack"), scrape_interval="1s") as s:
        yield s


def _restart(settings: StackSettings, *, force: bool = False) -> tuple[int, str]:
    console = Console(record=True, width=240)
    code = commands.restart(rolling=True, force=force, settings=settings, console=console)
    return code, console.export_text()


def _pids(settings: StackSettings) -> dict[str, int]:
    return LocalBackend(settings).running()


def _all_healthy(settings: StackSettings) -> bool:
    states = {c.name: c.state for c in LocalBackend(settings).status().components}
    return all(states[name] == "healthy" for name in PARTS)


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return " ".join(capsys.readouterr().err.split())


def test_a_stopped_component_refuses_the_roll_unless_forced(
    stack: StackSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    kill_9(stack, "node_exporter")
    before = _pids(stack)
    code, _ = _restart(stack)
    assert code == 1
    err = _err(capsys)
    assert "node_exporter stopped: a rolling restart would leave less running" in err
    assert "Nothing was stopped" in err
    assert _pids(stack) == before

    code, text = _restart(stack, force=True)
    assert code == 0, _err(capsys)
    after = _pids(stack)
    assert "node_exporter" not in after
    assert set(after) == set(before)
    assert all(after[name] != before[name] for name in before), (before, after)
    assert "left stopped (--force)" in text
    backends.deploy(LocalBackend(stack))  # the repair a stopped component needs
    assert _all_healthy(stack)


def test_settings_changed_since_the_deploy_are_refused(
    stack: StackSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _pids(stack)
    changed = stack.model_copy(update={"retention": "16d"})
    code, _ = _restart(changed)
    assert code == 1
    assert "prometheus run with another command line than the settings give" in _err(capsys)
    assert _pids(stack) == before


def test_a_broken_live_configuration_is_refused_before_anything_stops(
    stack: StackSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _pids(stack)
    live = stack.layout.config_dir / "alertmanager.yml"
    good = live.read_text()
    live.write_text(good + "\nroute: [not, a, route]\n")
    try:
        code, _ = _restart(stack)
    finally:
        live.write_text(good)
    assert code == 1
    assert "amtool check-config" in _err(capsys)
    assert _pids(stack) == before


def test_a_component_that_does_not_come_back_ends_the_roll_there(stack: StackSettings) -> None:
    backend = LocalBackend(stack)
    plan = plan_restart(backend, force=False)
    names = [step.component.name for step in plan.steps]
    broken = names.index("alertmanager")
    step = plan.steps[broken]
    # Its binary fails at once, as one removed by a bad upgrade would.
    failing = dataclasses.replace(
        step.component, spec=ProcessSpec("alertmanager", ["sh", "-c", "exit 3"])
    )
    steps = [*plan.steps[:broken], dataclasses.replace(step, component=failing)]
    steps += plan.steps[broken + 1 :]
    before = _pids(stack)
    with pytest.raises(DeployError) as refused:
        roll(backend, steps)
    message = str(refused.value)
    assert "alertmanager did not come back after its restart (exited)" in message
    assert f"not touched: {', '.join(names[broken + 1 :])}" in message
    after = _pids(stack)
    for untouched in names[broken + 1 :]:
        assert after[untouched] == before[untouched]
    backends.deploy(LocalBackend(stack))
    assert _all_healthy(stack)


def test_a_roll_restarts_everything_and_keeps_prometheus_samples(stack: StackSettings) -> None:
    with stack_client(stack, "prometheus") as client:
        wait_for(
            lambda: query(client, "count(count_over_time(up[1m]) > 10) > 3"), 60, "a minute of up"
        )
        at = time.time() - 5
        before = query(client, "up[120s]", at=at)
    pids = _pids(stack)
    code, text = _restart(stack)
    assert code == 0
    after = _pids(stack)
    assert set(after) == set(PARTS)
    assert all(after[name] != pids[name] for name in PARTS), (pids, after)
    assert _all_healthy(stack)
    for name in PARTS:
        assert any(name in line and "restarted (down" in line for line in text.splitlines())
    assert " ".join(SINGLE_TOPOLOGY_NOTE.split()[:6]) in " ".join(text.split())
    with stack_client(stack, "prometheus") as client:
        again = query(client, "up[120s]", at=at)
    assert _samples(again) == _samples(before)
    assert sum(map(len, _samples(before).values())) > 30


def _samples(result: list[dict[str, Any]]) -> dict[str, set[tuple[float, str]]]:
    return {
        str(sorted(series["metric"].items())): {(float(t), v) for t, v in series["values"]}
        for series in result
    }
