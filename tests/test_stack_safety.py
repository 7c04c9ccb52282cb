"""Deploy and reload never leave less running than before, on the real local stack (Prometheus,
Alertmanager, node_exporter deployed by acgs-deploy on free ports, always taken down):
bad stack-file values are refused before anything is stopped, a component that fails on new
settings is rolled back, fewer rules need a flag, a frozen Prometheus is replaced, and status
says when something is not healthy (``nox -s stack``)."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from acgs_deploy import backends, commands, configstore, mode
from acgs_deploy.backends.base import validate_or_discard
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.client import stack_client
from acgs_deploy.errors import DeployError
from acgs_deploy.exitcodes import exit_code
from acgs_deploy.process import ProcessManager
from acgs_deploy.rulefiles import count_rules
from acgs_deploy.settings import StackSettings
from acgs_testkit.ports import free_port
from acgs_testkit.stack import deployed_stack
from acgs_testkit.waiting import wait_for

pytestmark = pytest.mark.stack

SERVERS = ("prometheus", "alertmanager", "node_exporter")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    with deployed_stack(tmp_path_factory.mktemp("safety"), demo=False) as settings:
        yield settings


def _manager(settings: StackSettings) -> ProcessManager:
    return ProcessManager(settings.layout.run_dir, settings.layout.logs_dir)


def _pids(settings: StackSettings) -> dict[str, int | None]:
    return {name: _manager(settings).running(name) for name in SERVERS}


def _loaded_rules(settings: StackSettings) -> int:
    with stack_client(settings, "prometheus") as client:
        groups = client.get("/api/v1/rules").json()["data"]["groups"]
    return sum(len(group["rules"]) for group in groups)


def _stack_file(settings: StackSettings, **changes: Any) -> Path:
    """The fixture's stack file with `changes`, as a person would edit it."""
    root = settings.state_dir.parent
    values = yaml.safe_load((root / "stack.yml").read_text())
    edited = root / "edited.yml"
    edited.write_text(yaml.safe_dump({**values, **changes}))
    return edited


def _deploy(stack_file: Path, settings: StackSettings, **flags: Any) -> int:
    console = Console(record=True, width=300)
    code = commands.deploy(
        state_dir=settings.state_dir, stack_file=stack_file, console=console, **flags
    )
    assert isinstance(code, int)
    return code


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"host": "999.1.1.1"}, "host (env ACGS_HOST): Value error, not an IP address or host"),
        ({"host": "nowhere.invalid"}, "host: 'nowhere.invalid' does not resolve"),
        ({"host": "192.0.2.1"}, "host: 192.0.2.1 is not an address of this machine"),
        ({"scrape_interval": "0s"}, "scrape_interval (env ACGS_SCRAPE_INTERVAL): Value error"),
        ({"evaluation_interval": "0m"}, "evaluation_interval (env ACGS_EVALUATION_INTERVAL)"),
        ({"retention": "0d"}, "retention (env ACGS_RETENTION): Value error, must be longer"),
        ({"rules_dir": "/nonexistent/rulez"}, "rules_dir: /nonexistent/rulez does not exist"),
    ],
)
def test_a_bad_stack_file_value_is_refused_and_nothing_stops(
    deployed: StackSettings,
    changes: dict[str, str],
    line: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pids, live = _pids(deployed), configstore.live_version(deployed.layout)
    rules = _loaded_rules(deployed)
    assert _deploy(_stack_file(deployed, **changes), deployed) == 1
    err = capsys.readouterr().err
    assert err.startswith("deploy: error: ")
    assert line in " ".join(err.split())
    assert "Traceback" not in err
    assert _pids(deployed) == pids
    assert configstore.live_version(deployed.layout) == live
    assert _loaded_rules(deployed) == rules


def test_a_port_taken_by_another_program_is_refused_before_anything_stops(
    deployed: StackSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    pids = _pids(deployed)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        assert _deploy(_stack_file(deployed, alertmanager_port=taken), deployed) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"alertmanager_port: alertmanager port {taken} on 127.0.0.1 is in use" in err
    assert _pids(deployed) == pids


def test_a_component_that_fails_on_new_settings_is_rolled_back(deployed: StackSettings) -> None:
    """The port is free at the preflight and taken before Prometheus starts on it."""
    manager = _manager(deployed)
    pids, live = _pids(deployed), configstore.live_version(deployed.layout)
    argv = manager.recorded_argv("prometheus")
    moved = deployed.model_copy(update={"prometheus_port": free_port()})
    backend = LocalBackend(moved)
    rendered = backend.render()
    validate_or_discard(backend, rendered)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", moved.prometheus_port))
        squatter.listen()
        with pytest.raises(DeployError) as caught:
            backend.apply(rendered)
    message = str(caught.value)
    assert exit_code(caught.value) == 1
    assert message.startswith(
        "prometheus did not start on the new settings: refused. Put back on the configuration "
        "and command lines that ran before: prometheus running again."
    )
    assert "address already in use" in message  # from Prometheus's log
    # What ran before runs again: the same command line, configuration and address.
    assert manager.recorded_argv("prometheus") == argv
    assert manager.running("prometheus") not in (None, pids["prometheus"])
    assert configstore.live_version(deployed.layout) == live
    assert (
        (deployed.layout.config_dir / "prometheus.yml")
        .read_text()
        .count(f":{deployed.prometheus_port}")
    )
    with stack_client(deployed, "prometheus") as client:
        assert client.get("/-/ready").status_code == 200
    last = mode.last_settings(deployed)
    assert last is not None
    assert last.prometheus_port == deployed.prometheus_port
    # The others were never touched.
    assert {n: p for n, p in _pids(deployed).items() if n != "prometheus"} == {
        n: p for n, p in pids.items() if n != "prometheus"
    }


def test_fewer_rules_need_the_flag(
    deployed: StackSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    rules_dir = deployed.rules_dir
    before = _loaded_rules(deployed)
    assert before == count_rules(rules_dir)
    aside = rules_dir.parent / "aside.yml"
    (rules_dir / "node.yml").rename(aside)
    after = count_rules(rules_dir)
    stack_file = deployed.state_dir.parent / "stack.yml"
    try:
        assert _deploy(stack_file, deployed) == 1
        refusal = (
            f"rules_dir: the rule files hold {after} rules, fewer than the {before} loaded now: "
            "nothing was changed. Check rules_dir, or pass --allow-fewer-rules to load fewer."
        )
        assert refusal in " ".join(capsys.readouterr().err.split())
        state: dict[str, Any] = {"state_dir": deployed.state_dir, "stack_file": stack_file}
        assert commands.reload(**state, console=Console(record=True)) == 1
        assert refusal in " ".join(capsys.readouterr().err.split())
        assert _loaded_rules(deployed) == before
        assert commands.reload(**state, allow_fewer_rules=True, console=Console(record=True)) == 0
        assert _loaded_rules(deployed) == after
    finally:
        aside.rename(rules_dir / "node.yml")
    assert _deploy(stack_file, deployed) == 0  # more rules again: no flag needed
    assert _loaded_rules(deployed) == before


def test_a_frozen_prometheus_is_killed_and_restarted(deployed: StackSettings) -> None:
    manager = _manager(deployed)
    frozen = manager.running("prometheus")
    assert frozen is not None
    others = {n: p for n, p in _pids(deployed).items() if n != "prometheus"}
    os.kill(frozen, signal.SIGSTOP)
    try:
        started = time.monotonic()
        report = backends.deploy(LocalBackend(deployed))
        elapsed = time.monotonic() - started
    finally:
        if Path(f"/proc/{frozen}").exists():
            os.kill(frozen, signal.SIGCONT)
    print(f"deploy replaced a frozen Prometheus in {elapsed:.1f} s")
    assert report.actions["prometheus"] == "restarted"
    by_name = {state.name: state for state in report.components}
    assert (
        "answered nothing (frozen or hung): killed and started again" in by_name["prometheus"].hint
    )
    assert manager.running("prometheus") not in (None, frozen)
    assert {n: p for n, p in _pids(deployed).items() if n != "prometheus"} == others
    with stack_client(deployed, "prometheus") as client:
        assert client.get("/-/ready").status_code == 200
    assert elapsed < 45  # bounded well under the 60 s health timeout it used to wait out


def test_status_exits_4_while_a_component_is_stopped(deployed: StackSettings) -> None:
    manager = _manager(deployed)
    assert commands.status(settings=deployed, console=Console(record=True)) == 0
    victim = manager.running("node_exporter")
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: manager.running("node_exporter") is None, 10, "node_exporter to die")
    console = Console(record=True, width=300)
    assert commands.status(settings=deployed, console=console) == 4
    assert "node_exporter │" in console.export_text()
    backends.deploy(LocalBackend(deployed))
    assert commands.status(settings=deployed, console=Console(record=True)) == 0
