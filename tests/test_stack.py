"""The whole local stack, end to end: real Prometheus, Alertmanager, node_exporter, acgs-sim
and the webhook receiver, deployed by the local backend into a temporary state
directory on free ports, and always torn down (``nox -s stack``)."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from acgs_deploy import backends, cli, commands, configstore
from acgs_deploy.backends.base import DeployOptions, Report
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.client import ComponentName, base_url, stack_client
from acgs_deploy.process import ProcessManager
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.webhook import read_notifications
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_stack_settings
from acgs_testkit.stack import deployed_stack
from acgs_testkit.waiting import stop_process, wait_for

pytestmark = pytest.mark.stack

SERVERS: tuple[ComponentName, ...] = ("prometheus", "alertmanager", "node_exporter")
ACGS_JOBS = {f"acgs-{s}" for s in ("auth", "ac", "integrity", "fv", "gs", "pgc", "ec")}
GS_INDEX = 4


def deploy(settings: StackSettings, demo: bool | None = None) -> Report:
    return backends.deploy(LocalBackend(settings, DeployOptions(demo=demo)))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    with deployed_stack(tmp_path_factory.mktemp("stack")) as settings:
        yield settings


def _client(settings: StackSettings, server: ComponentName) -> httpx.Client:
    return stack_client(settings, server)


def _targets(settings: StackSettings) -> dict[str, str]:
    with _client(settings, "prometheus") as client:
        data = client.get("/api/v1/targets").json()["data"]["activeTargets"]
    return {t["labels"]["job"]: t["health"] for t in data}


def _rule_groups(settings: StackSettings) -> list[dict[str, Any]]:
    with _client(settings, "prometheus") as client:
        groups: list[dict[str, Any]] = client.get("/api/v1/rules").json()["data"]["groups"]
    return groups


def test_every_endpoint_refuses_plain_http_and_bad_credentials(
    deployed: StackSettings,
) -> None:
    secrets = Secrets.load(deployed.state_dir)
    for server in SERVERS:
        url = base_url(deployed, server)
        for path in ("/-/healthy", "/metrics") if server != "node_exporter" else ("/metrics",):
            plain = httpx.get(url.replace("https://", "http://") + path, timeout=5)
            assert plain.status_code == 400, (server, path, "plain HTTP")
            with stack_client(deployed, server, auth=False, timeout=5) as client:
                assert client.get(url + path).status_code == 401, (server, path, "no auth")
                wrong = client.get(url + path, auth=(secrets.prometheus_username, "wrong"))
                assert wrong.status_code == 401, (server, path, "wrong password")
                nobody = client.get(url + path, auth=("admin", secrets.prometheus_password))
                assert nobody.status_code == 401, (server, path, "wrong user")
                good = client.get(
                    url + path, auth=(secrets.prometheus_username, secrets.prometheus_password)
                )
                assert good.status_code == 200, (server, path, "good credentials")
        # A client that does not trust the stack's CA is refused at the handshake.
        with pytest.raises(httpx.ConnectError), httpx.Client(timeout=5) as untrusting:
            untrusting.get(url + "/metrics")


def test_all_targets_up(deployed: StackSettings) -> None:
    wanted = ACGS_JOBS | {"prometheus", "alertmanager", "node_exporter"}

    def all_up() -> dict[str, str] | None:
        targets = _targets(deployed)
        return targets if set(targets) == wanted and set(targets.values()) == {"up"} else None

    try:
        wait_for(all_up, 40, "every target up")
    except AssertionError:
        pytest.fail(f"targets not all up: {_targets(deployed)}")


def test_rules_loaded_and_evaluating(deployed: StackSettings) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        groups = _rule_groups(deployed)
        rules = [rule for group in groups for rule in group["rules"]]
        done = rules and all(r.get("lastEvaluation", "").startswith("2") for r in rules)
        return rules if done and not rules[0]["lastEvaluation"].startswith("0001") else None

    rules = wait_for(evaluated, 30, "every rule evaluated")
    loaded = {p.name for p in deployed.rules_dir.glob("*.yml")}
    files = {Path(g["file"]).name for g in _rule_groups(deployed)}
    assert files == loaded
    broken = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert broken == []


def test_fault_makes_the_alert_arrive_at_the_webhook(deployed: StackSettings) -> None:
    gs = f"http://{deployed.sim_host}:{deployed.sim_base_port + GS_INDEX}"
    response = httpx.post(f"{gs}/control/faults", json={"fault": "compliance_drop"}, timeout=5)
    assert response.status_code in (200, 201, 204), response.text
    try:

        def arrived() -> dict[str, Any] | None:
            for record in read_notifications(deployed.layout.webhook_log):
                payload = record["payload"]
                assert isinstance(payload, dict)
                for alert in payload.get("alerts", []):
                    labels = alert["labels"]
                    if (
                        labels.get("alertname") == "ACGSComplianceScoreLow"
                        and labels.get("service") == "gs"
                        and alert["status"] == "firing"
                    ):
                        return dict(alert)
            return None

        alert = wait_for(arrived, 150, "ACGSComplianceScoreLow for gs at the webhook", every_s=1)
        assert alert["labels"]["service"] == "gs"
    finally:
        httpx.delete(f"{gs}/control/faults", timeout=5)


def test_reload_refuses_a_broken_rule_file_and_keeps_the_old_rules(
    deployed: StackSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(g["name"] for g in _rule_groups(deployed))
    live_before = deployed.layout.config_dir.resolve()
    broken = deployed.rules_dir / "zz-broken.yml"
    broken.write_text(
        "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: sum(\n"
    )
    try:
        with pytest.raises(configstore.ConfigError) as caught:
            LocalBackend(deployed).reload()
        assert f"{broken}: 5:15" in str(caught.value)
        # The same through the command: exit 1, file and line, no traceback.
        for name, value in _port_env(deployed):
            monkeypatch.setenv(f"ACGS_{name.upper()}", str(value))
        assert commands.reload(state_dir=deployed.state_dir) == 1
        err = capsys.readouterr().err
        assert "zz-broken.yml: 5:15" in err.replace("\n", "")
        assert "Nothing was applied" in err.replace("\n", " ")
        assert "Traceback" not in err
    finally:
        broken.unlink()
    assert deployed.layout.config_dir.resolve() == live_before
    assert sorted(g["name"] for g in _rule_groups(deployed)) == before
    with _client(deployed, "prometheus") as client:
        answer = client.get("/api/v1/query", params={"query": "up"}).json()
    assert answer["status"] == "success"

    # A good change is applied and hot-reloaded without a restart.
    pid = ProcessManager(deployed.layout.run_dir, deployed.layout.logs_dir).running("prometheus")
    extra = deployed.rules_dir / "zz-extra.yml"
    extra.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "extra", "rules": [{"record": "x:up", "expr": "sum(up)"}]}]}
        )
    )
    try:
        report = LocalBackend(deployed).reload()
        assert report.config_changed == {"rules/zz-extra.yml"}
        assert report.actions["prometheus"] == "reloaded"
        assert "extra" in {g["name"] for g in _rule_groups(deployed)}
        assert (
            ProcessManager(deployed.layout.run_dir, deployed.layout.logs_dir).running("prometheus")
            == pid
        )
    finally:
        extra.unlink()
        LocalBackend(deployed, DeployOptions(allow_fewer_rules=True)).reload()


def test_redeploy_of_a_healthy_stack_changes_nothing(deployed: StackSettings) -> None:
    started = time.monotonic()
    report = deploy(deployed)
    elapsed = time.monotonic() - started
    assert report.config_changed == set()
    acted = {name: action for name, action in report.actions.items() if action != "skipped"}
    assert set(acted.values()) == {"unchanged"}, acted
    assert {"prometheus", "alertmanager", "node_exporter", "webhook", "acgs-sim"} <= set(acted)
    assert elapsed < 30  # generous bound; the benchmark reports the real figure


def test_kill_9_is_repaired_by_the_next_deploy(deployed: StackSettings) -> None:
    manager = ProcessManager(deployed.layout.run_dir, deployed.layout.logs_dir)
    victim = manager.running("alertmanager")
    assert victim is not None
    others = {name: manager.running(name) for name in ("prometheus", "node_exporter")}
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: manager.running("alertmanager") is None, 10, "alertmanager to die")
    states = {s.name: s.state for s in LocalBackend(deployed).status().components}
    assert states["alertmanager"] == "stopped"
    report = deploy(deployed)
    assert report.actions["alertmanager"] == "started"
    assert report.actions["prometheus"] == "unchanged"
    assert {name: manager.running(name) for name in others} == others
    with _client(deployed, "alertmanager") as client:
        assert client.get("/-/ready").status_code == 200


def test_status_reports_grafana_honestly(deployed: StackSettings) -> None:
    states = {s.name: s for s in LocalBackend(deployed).status().components}
    if shutil.which("grafana-server") or shutil.which("grafana"):
        assert states["grafana"].state in ("healthy", "unhealthy")
    else:
        assert states["grafana"].state == "not installed"
        assert "apt.grafana.com" in states["grafana"].hint
    assert states["prometheus"].state == "healthy"


def test_cli_status_and_secrets_stay_out_of_output(deployed: StackSettings) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "acgs_deploy.cli", "status", "--state-dir", str(deployed.state_dir)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **{f"ACGS_{k.upper()}": str(v) for k, v in _port_env(deployed)}},
    )
    assert done.returncode == 0, done.stderr
    assert "prometheus" in done.stdout
    assert "healthy" in done.stdout
    secrets = Secrets.load(deployed.state_dir)
    for value in secrets.as_env().values():
        if len(value) > 12:
            assert value not in done.stdout + done.stderr
    logs = "".join(p.read_text(errors="replace") for p in deployed.layout.logs_dir.glob("*.log"))
    assert secrets.prometheus_password not in logs
    for pid_file in deployed.layout.run_dir.glob("*.pid"):
        assert secrets.prometheus_password not in pid_file.read_text()


def _port_env(settings: StackSettings) -> list[tuple[str, object]]:
    names = [
        "prometheus_port",
        "alertmanager_port",
        "node_exporter_port",
        "grafana_port",
        "sim_base_port",
        "webhook_port",
        "rules_dir",
    ]
    return [(name, getattr(settings, name)) for name in names]


def _zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "Z"


def test_deploy_after_a_rule_change_reloads_prometheus(deployed: StackSettings) -> None:
    manager = ProcessManager(deployed.layout.run_dir, deployed.layout.logs_dir)
    pid = manager.running("prometheus")
    extra = deployed.rules_dir / "zz-deploy-extra.yml"
    extra.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "deploy-extra", "rules": [{"record": "y:up", "expr": "sum(up)"}]}]}
        )
    )
    try:
        report = deploy(deployed)
        assert report.config_changed == {"rules/zz-deploy-extra.yml"}
        assert report.actions["prometheus"] == "reloaded"
        assert report.actions["alertmanager"] == "unchanged"
        assert manager.running("prometheus") == pid
        assert "deploy-extra" in {g["name"] for g in _rule_groups(deployed)}
    finally:
        extra.unlink()
        backends.deploy(LocalBackend(deployed, DeployOptions(allow_fewer_rules=True)))
    assert "deploy-extra" not in {g["name"] for g in _rule_groups(deployed)}


def test_changed_setting_restarts_only_that_component(deployed: StackSettings) -> None:
    longer = deployed.model_copy(update={"retention": "30d"})
    try:
        report = deploy(longer)
        assert report.actions["prometheus"] == "restarted"
        assert report.actions["alertmanager"] == "unchanged"
        argv = ProcessManager(deployed.layout.run_dir, deployed.layout.logs_dir).recorded_argv(
            "prometheus"
        )
        assert argv is not None
        assert "--storage.tsdb.retention.time=30d" in argv
    finally:
        deploy(deployed)


def test_no_demo_switches_the_demo_off_and_it_stays_off(
    deployed: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`acgs-deploy deploy --no-demo` (as `invoke deploy --no-demo`) on a demo state dir."""
    for name in ("prometheus_port", "alertmanager_port", "node_exporter_port", "grafana_port"):
        monkeypatch.setenv(f"ACGS_{name.upper()}", str(getattr(deployed, name)))
    monkeypatch.setenv("ACGS_SIM_BASE_PORT", str(deployed.sim_base_port))
    monkeypatch.setenv("ACGS_WEBHOOK_PORT", str(deployed.webhook_port))
    monkeypatch.setenv("ACGS_RULES_DIR", str(deployed.rules_dir))
    state = ["--state-dir", str(deployed.state_dir)]
    manager = ProcessManager(deployed.layout.run_dir, deployed.layout.logs_dir)
    demo_parts = ("webhook", "acgs-sim")
    try:
        assert cli.main(["deploy", "--no-demo", *state]) == 0
        assert {name: manager.running(name) for name in demo_parts} == dict.fromkeys(demo_parts)
        alertmanager = (deployed.layout.config_dir / "alertmanager.yml").read_text()
        assert f":{deployed.webhook_port}/alerts" not in alertmanager
        # A later deploy without either flag keeps it off.
        assert cli.main(["deploy", *state]) == 0
        assert manager.running("acgs-sim") is None
        assert {s.name for s in LocalBackend(deployed).status().components}.isdisjoint(demo_parts)
    finally:
        assert cli.main(["deploy", "--demo", *state]) == 0
    assert all(manager.running(name) for name in demo_parts)


def test_down_stops_only_what_it_started(deployed: StackSettings) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        manager = ProcessManager(deployed.layout.run_dir, deployed.layout.logs_dir)
        pids = {name: manager.running(name) for name in manager.recorded()}
        stopped = [state.name for state in LocalBackend(deployed).down().components]
        assert set(stopped) == {name for name, pid in pids.items() if pid}
        assert sleeper.poll() is None
        for pid in pids.values():
            assert pid is None or not Path(f"/proc/{pid}").exists() or _zombie(pid)
        assert manager.recorded() == []
        with (
            pytest.raises(httpx.ConnectError),
            stack_client(deployed, "prometheus", auth=False, timeout=2) as client,
        ):
            client.get("/")
    finally:
        stop_process(sleeper)


def test_user_supplied_certificate_stack(tmp_path: Path) -> None:
    """A CA-signed certificate of the user's own PKI instead of the local CA."""
    from acgs_deploy.tls import ensure_certificates

    # The "corporate" PKI: a CA and a server certificate made in another directory.
    pki = ensure_certificates(StackSettings.load(tmp_path / "pki"))
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copyfile(REPO_ROOT / "rules" / "node.yml", rules / "node.yml")
    settings = free_stack_settings(
        tmp_path / "state",
        rules_dir=rules,
        tls_cert_file=pki.server_cert,
        tls_key_file=pki.server_key,
        tls_ca_file=pki.ca_cert,
    )
    try:
        report = deploy(settings, demo=False)
        assert report.actions["prometheus"] == "started"
        assert not (settings.layout.certs_dir / "ca.key").exists()  # no local CA was made
        secrets = Secrets.load(settings.state_dir)
        with httpx.Client(
            verify=ssl.create_default_context(cafile=str(pki.ca_cert)),
            auth=(secrets.prometheus_username, secrets.prometheus_password),
            timeout=5,
        ) as client:
            assert (
                client.get(f"https://127.0.0.1:{settings.prometheus_port}/-/ready").status_code
                == 200
            )
            assert (
                client.get(f"https://127.0.0.1:{settings.node_exporter_port}/metrics").status_code
                == 200
            )
    finally:
        LocalBackend(settings).down()
