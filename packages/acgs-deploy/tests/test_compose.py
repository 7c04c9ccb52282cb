"""The compose target, rendered and validated for real (docker-compose config, promtool,
amtool). No Docker engine runs here, so `up` is not exercised."""

from __future__ import annotations

import configparser
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from acgs_deploy import backends, commands
from acgs_deploy.backends.compose import COMPOSE_FILE, ComposeBackend, engine_problem
from acgs_deploy.errors import DeployError
from acgs_deploy.settings import StackSettings

from .conftest import IssueCertificate


def render_compose(settings: StackSettings) -> Path:
    """Deploy the compose target (nothing starts here: no engine); the compose file."""
    backends.deploy(ComposeBackend(settings))
    return settings.layout.compose_dir / COMPOSE_FILE


def test_compose_file_renders_and_validates(settings: StackSettings) -> None:
    path = render_compose(settings)
    assert path.name == "docker-compose.monitoring.yml"
    done = subprocess.run(
        ["docker-compose", "-f", str(path), "config"],
        capture_output=True,
        text=True,
        check=True,
        cwd=path.parent,
    )
    resolved = yaml.safe_load(done.stdout)
    services = resolved["services"]
    assert set(services) == {"prometheus", "alertmanager", "node-exporter", "grafana"}
    assert re.fullmatch(r"prom/prometheus:v3\.\d+\.\d+", services["prometheus"]["image"])
    for service in services.values():
        assert not service["image"].endswith(":latest")
        assert service["user"] == f"{os.getuid()}:{os.getgid()}"
    assert "--web.config.file=/etc/acgs/web.yml" in services["prometheus"]["command"]
    assert services["prometheus"]["ports"] == ["127.0.0.1:29090:9090/tcp"]
    prometheus = yaml.safe_load((path.parent / "config" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prometheus["scrape_configs"]}
    assert jobs["alertmanager"]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert jobs["acgs-auth"]["static_configs"][0]["targets"] == ["host.docker.internal:28000"]
    assert jobs["node_exporter"]["tls_config"]["ca_file"] == "/etc/acgs-certs/ca.crt"
    key = path.parent / "certs" / "server.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_compose_optional_exporters(tmp_path: Path, rules_dir: Path) -> None:
    settings = StackSettings.load(
        tmp_path / "state", rules_dir=rules_dir, redis_address="redis:6379"
    )
    path = render_compose(settings)
    services = yaml.safe_load(path.read_text())["services"]
    assert "redis-exporter" in services
    assert "postgres-exporter" not in services
    jobs = {
        j["job_name"]
        for j in yaml.safe_load((path.parent / "config" / "prometheus.yml").read_text())[
            "scrape_configs"
        ]
    }
    assert "redis" in jobs


def test_deploy_without_engine_says_so(
    settings: StackSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    # No engine runs on these machines: rendered, validated, and honestly not started.
    report = backends.deploy(ComposeBackend(settings))
    assert not report.started
    problem = engine_problem()
    assert problem is not None
    assert f"not started: {problem}" in report.notes[-1]
    assert commands.deploy(target="compose", settings=settings) == 3
    text = " ".join(capsys.readouterr().out.split())
    assert f"rendered and validated {settings.layout.compose_dir / COMPOSE_FILE}" in text
    assert "docker compose -f" in text
    # Printed as is: without the Docker SDK the hint names the extra `acgs-deploy[docker]`,
    # which rich markup would swallow.
    assert f"not started: {problem}" in text


def test_demo_is_refused_before_anything_is_written(
    settings: StackSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = commands.deploy(target="compose", demo=True, settings=settings)
    assert code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "--demo is not supported with --target compose" in err
    assert "invoke deploy --demo" in err
    assert not settings.state_dir.exists()


def test_state_dir_that_is_a_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "state-file"
    blocker.write_text("not a directory")
    code = commands.deploy(target="compose", state_dir=blocker)
    assert code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"cannot write to the state directory {blocker}: {blocker} is a file" in err
    assert "Traceback" not in err
    assert blocker.read_text() == "not a directory"


def _grafana_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    parser.read_string(path.read_text())
    return parser


def test_grafana_listens_where_the_compose_file_publishes(settings: StackSettings) -> None:
    """A grafana_port other than 3000: the container port of the mapping is where it listens."""
    assert settings.grafana_port != 3000
    path = render_compose(settings)
    done = subprocess.run(
        ["docker-compose", "-f", str(path), "config"],
        capture_output=True,
        text=True,
        check=True,
        cwd=path.parent,
    )
    (mapping,) = yaml.safe_load(done.stdout)["services"]["grafana"]["ports"]
    host, host_port, container = mapping.removesuffix("/tcp").split(":")
    assert (host, int(host_port)) == ("127.0.0.1", settings.grafana_port)
    server = _grafana_ini(path.parent / "config" / "grafana" / "grafana.ini")["server"]
    assert server["http_port"] == container
    # Browsers still reach it on the published port.
    assert server["root_url"] == f"https://127.0.0.1:{settings.grafana_port}/"


def test_local_grafana_listens_on_grafana_port(settings: StackSettings) -> None:
    from acgs_deploy.render import local_topology, render
    from acgs_deploy.secrets import Secrets

    secrets, _ = Secrets.ensure(settings.state_dir)
    out = settings.state_dir / "rendered"
    render(settings, secrets, local_topology(settings, demo=False), out)
    server = _grafana_ini(out / "grafana" / "grafana.ini")["server"]
    assert server["http_port"] == str(settings.grafana_port)


def test_status_and_down_say_how_to_manage_compose(settings: StackSettings) -> None:
    compose_file = render_compose(settings)
    # status sees the local target only, which does not run here: 4, not healthy.
    for run, code in ((commands.status, 4), (commands.down, 0)):
        console = Console(record=True, width=400)
        assert run(settings=settings, console=console) == code
        text = console.export_text()
        assert f"compose deployment ({compose_file})" in text
        assert f"docker compose -f {compose_file} -p acgs-monitoring down" in text


def test_user_certificate_without_the_service_names_is_refused(
    tmp_path: Path, issue_certificate: IssueCertificate
) -> None:
    files = issue_certificate("issued", ["localhost"], ["127.0.0.1"])
    settings = StackSettings.load(tmp_path / "state", rules_dir=tmp_path / "none", **files)
    with pytest.raises(DeployError) as caught:
        ComposeBackend(settings).render()
    assert "prometheus, alertmanager, node-exporter as SANs" in str(caught.value)
    assert not settings.state_dir.exists()  # refused before anything was written
