"""Preflight and the state directory's lock: every refusal of a local deploy happens before
anything starts or is written, and says what to do."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from acgs_deploy import backends
from acgs_deploy.backends.base import DeployOptions, Report
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.errors import DeployError
from acgs_deploy.lock import LOCK_FILE
from acgs_deploy.settings import StackSettings
from acgs_testkit.ports import free_port, free_stack_settings, ports_free
from acgs_testkit.waiting import wait_for


def deploy(settings: StackSettings, demo: bool | None = None) -> Report:
    return backends.deploy(LocalBackend(settings, DeployOptions(demo=demo)))


def _nothing_started(settings: StackSettings) -> bool:
    run = settings.layout.run_dir
    return not run.exists() or not list(run.glob("*.pid"))


@pytest.fixture
def settings(tmp_path: Path, rules_dir: Path) -> StackSettings:
    """Ports free now: these deploys bind them (the conftest's fixed ones only render)."""
    return free_stack_settings(tmp_path / "state", rules_dir=rules_dir)


def test_busy_port_is_refused_before_anything_starts(settings: StackSettings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.alertmanager_port))
        squatter.listen()
        with pytest.raises(DeployError) as caught:
            deploy(settings, demo=False)
    message = str(caught.value)
    assert f"alertmanager port {settings.alertmanager_port} on 127.0.0.1" in message
    assert "choose another alertmanager_port" in message
    assert _nothing_started(settings)
    # Refused before anything changed: no configuration applied, no secrets made.
    assert not settings.layout.config_dir.exists()
    assert not settings.layout.env_file.exists()


def test_two_components_on_one_port(tmp_path: Path, rules_dir: Path) -> None:
    settings = StackSettings.load(
        tmp_path / "state", rules_dir=rules_dir, prometheus_port=29555, grafana_port=29555
    )
    with pytest.raises(DeployError, match=r"share a port \(29555: prometheus, grafana\)"):
        deploy(settings)
    assert _nothing_started(settings)


def test_a_sim_fleet_over_a_stack_port(tmp_path: Path, rules_dir: Path) -> None:
    # 20 instances from 29000 take 29000..29139; Prometheus on 29090 is inside.
    settings = StackSettings.load(
        tmp_path / "state",
        rules_dir=rules_dir,
        sim_base_port=29000,
        sim_replicas=20,
        prometheus_port=29090,
    )
    with pytest.raises(DeployError) as raised:
        deploy(settings)
    message = str(raised.value)
    assert "29090: prometheus, acgs-ec-12" in message
    assert "the ACGS services take ports 29000..29139" in message
    assert "move sim_base_port or lower sim_replicas" in message
    assert _nothing_started(settings)


def test_not_enough_disk(tmp_path: Path, rules_dir: Path) -> None:
    settings = StackSettings.load(tmp_path / "state", rules_dir=rules_dir, min_free_disk_mb=1 << 40)
    with pytest.raises(DeployError, match="MiB free under"):
        deploy(settings)
    assert _nothing_started(settings)


def test_state_dir_that_is_a_file(tmp_path: Path, rules_dir: Path) -> None:
    # Refused for root too (CI runs as root): nothing can be created under a regular file.
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = StackSettings.load(blocker / "state", rules_dir=rules_dir)
    with pytest.raises(DeployError, match="cannot write to the state directory"):
        deploy(settings)


def test_broken_rule_stops_deploy_before_start(settings: StackSettings, rules_dir: Path) -> None:
    from acgs_deploy.configstore import ConfigError

    (rules_dir / "bad.yml").write_text("groups:\n  - name: x\n    rules: [{alert: X}]\n")
    with pytest.raises(ConfigError) as caught:
        deploy(settings)
    assert f"{rules_dir}/bad.yml" in str(caught.value)
    assert "Nothing was applied" in str(caught.value)
    assert _nothing_started(settings)
    assert not settings.layout.config_dir.exists()
    assert not list(settings.layout.config_versions_dir.glob(".staging-*"))  # discarded


def test_concurrent_deploys_are_refused(settings: StackSettings) -> None:
    import fcntl

    settings.state_dir.mkdir(parents=True)
    with (settings.state_dir / LOCK_FILE).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DeployError, match="another deploy, reload or down is running"):
            deploy(settings)
    assert _nothing_started(settings)


def _refused_before_anything(settings: StackSettings) -> str:
    """Deploy `settings`; the refusal's message, after checking nothing was made or started."""
    with pytest.raises(DeployError) as caught:
        deploy(settings, demo=False)
    assert _nothing_started(settings)
    assert not settings.layout.config_dir.exists()
    return str(caught.value)


@pytest.mark.parametrize(
    ("host", "line"),
    [
        ("nowhere.invalid", "host: 'nowhere.invalid' does not resolve"),
        ("192.0.2.1", "host: 192.0.2.1 is not an address of this machine, so the stack cannot"),
    ],
)
def test_an_address_the_stack_cannot_listen_on(
    settings: StackSettings, host: str, line: str
) -> None:
    message = _refused_before_anything(settings.model_copy(update={"host": host}))
    assert line in message
    assert "give an address of this machine" in message or "give one of its addresses" in message
    # One line per problem: the host once, not once per component.
    assert message.count(f"host: {host!r}" if "resolve" in line else f"host: {host} ") == 1


def test_each_busy_port_is_named_by_its_key(settings: StackSettings) -> None:
    with socket.socket() as one, socket.socket() as two:
        for squatter, port in ((one, settings.prometheus_port), (two, settings.node_exporter_port)):
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
        message = _refused_before_anything(settings)
    assert (
        f"prometheus_port: prometheus port {settings.prometheus_port} on 127.0.0.1 is in use"
        in message
    )
    assert "choose another prometheus_port (ACGS_PROMETHEUS_PORT, or the stack file)" in message
    assert "choose another node_exporter_port" in message
    assert "alertmanager_port" not in message


def test_a_port_held_by_the_components_own_process_is_not_busy(tmp_path: Path) -> None:
    from acgs_deploy.preflight import Listener, check_listeners
    from acgs_deploy.process import ProcessManager, ProcessSpec

    port = free_port()
    manager = ProcessManager(tmp_path / "run", tmp_path / "logs")
    server = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    pid = manager.start(ProcessSpec("server", server))
    try:
        wait_for(lambda: not ports_free([port]), 10, "the server to listen")
        check_listeners([Listener("server", "host", "127.0.0.1", "server_port", port, pid)])
        with pytest.raises(DeployError, match=f"server_port: other port {port}"):
            check_listeners([Listener("other", "host", "127.0.0.1", "server_port", port, None)])
    finally:
        manager.stop("server")


def test_a_missing_rules_dir_is_refused(settings: StackSettings, tmp_path: Path) -> None:
    typo = tmp_path / "rulez"
    message = _refused_before_anything(settings.model_copy(update={"rules_dir": typo}))
    assert message == (
        f"rules_dir: {typo} does not exist: fix rules_dir in the stack file (or ACGS_RULES_DIR)"
    )


def test_a_rules_dir_without_rule_files_is_refused(settings: StackSettings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("not rules")
    message = _refused_before_anything(settings.model_copy(update={"rules_dir": empty}))
    assert f"rules_dir: no rule files (*.yml, *.yaml) in {empty}" in message
    afile = tmp_path / "a-file"
    afile.write_text("")
    message = _refused_before_anything(settings.model_copy(update={"rules_dir": afile}))
    assert f"rules_dir: {afile} is not a directory" in message


def test_yaml_rule_files_are_loaded_too(settings: StackSettings, rules_dir: Path) -> None:
    from acgs_deploy.backends.base import validate_or_discard

    (rules_dir / "test.yml").rename(rules_dir / "test.yaml")
    backend = LocalBackend(settings)
    rendered = backend.render()
    validate_or_discard(backend, rendered)
    assert [p.name for p in (rendered.config / "rules").iterdir()] == ["test.yaml"]
    # promtool check config loaded it: the rendered prometheus.yml names *.yaml files.
    check = subprocess.run(
        ["promtool", "check", "config", "prometheus.yml"],
        cwd=rendered.config,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "1 rules found" in check.stdout + check.stderr
    rendered.discard()


def _rules(count: int) -> str:
    rules = "".join(f"      - record: r{i}\n        expr: vector({i})\n" for i in range(count))
    return f"groups:\n  - name: g\n    rules:\n{rules}"


def test_fewer_rules_need_the_flag(tmp_path: Path) -> None:
    from acgs_deploy.preflight import check_rule_count

    live, staged = tmp_path / "live", tmp_path / "staged"
    live.mkdir()
    staged.mkdir()
    (live / "a.yml").write_text(_rules(5))
    (live / "b.yaml").write_text(_rules(3))
    (staged / "a.yml").write_text(_rules(5))
    with pytest.raises(DeployError) as caught:
        check_rule_count(staged, live, allow_fewer=False)
    assert str(caught.value) == (
        "rules_dir: the rule files hold 5 rules, fewer than the 8 loaded now: nothing was "
        "changed. Check rules_dir, or pass --allow-fewer-rules to load fewer."
    )
    check_rule_count(staged, live, allow_fewer=True)
    (staged / "c.yaml").write_text(_rules(3))
    check_rule_count(staged, live, allow_fewer=False)  # as many: no flag needed
    check_rule_count(staged, tmp_path / "none", allow_fewer=False)  # a first deploy


def test_rule_files_without_rules_are_refused_even_with_the_flag(tmp_path: Path) -> None:
    from acgs_deploy.preflight import check_rule_count

    (tmp_path / "empty.yml").write_text("groups: []\n")
    with pytest.raises(DeployError, match="the rule files hold no rules, so nothing would alert"):
        check_rule_count(tmp_path, tmp_path / "none", allow_fewer=True)
