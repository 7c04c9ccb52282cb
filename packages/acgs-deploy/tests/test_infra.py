"""The demo infrastructure without running it: which parts a deploy leaves out and the one line
saying why (a taken port, a binary that cannot be installed, PostgreSQL that cannot be
initialised, the user's own exporter), its rendered files checked by the real HAProxy and
promtool, and the secrets and Grafana account it brings."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
import yaml

from acgs_deploy import binaries, configstore
from acgs_deploy.infra import PARTS, Plan, plan
from acgs_deploy.infra.render import write_configs
from acgs_deploy.process import ProcessManager
from acgs_deploy.render import local_topology, render
from acgs_deploy.secrets import INFRA_KEYS, Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import ensure_certificates
from acgs_testkit.ports import free_stack_settings


@pytest.fixture
def settings(tmp_path: Path, rules_dir: Path) -> StackSettings:
    return free_stack_settings(tmp_path / "state", rules_dir=rules_dir, infra=True)


def _manager(settings: StackSettings) -> ProcessManager:
    return ProcessManager(settings.layout.run_dir, settings.layout.logs_dir)


def test_a_taken_port_leaves_out_the_part_and_what_needs_it(settings: StackSettings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.redis_port))
        squatter.listen()
        decided = plan.plan(settings, _manager(settings))
    assert decided.run == ["postgres", "haproxy", "postgres_exporter"]
    line = decided.left_out["redis"]
    assert f"redis port {settings.redis_port} on 127.0.0.1 is in use by another program" in line
    assert "choose another redis_port" in line
    assert "\n" not in line
    assert decided.left_out["redis_exporter"].startswith("redis_exporter: needs redis: ")
    assert decided.left_out["redis_exporter_tls"].startswith("redis_exporter_tls: needs redis")


def test_a_user_exporter_replaces_ours(tmp_path: Path, rules_dir: Path) -> None:
    settings = free_stack_settings(
        tmp_path / "state", rules_dir=rules_dir, infra=True, redis_exporter_target="10.0.0.9:9121"
    )
    decided = plan.plan(settings, _manager(settings))
    assert "redis" in decided.run  # acgs-sim still has its Redis
    assert "redis_exporter_target is set" in decided.left_out["redis_exporter"]
    assert set(decided.left_out) == {"redis_exporter", "redis_exporter_tls"}


def test_a_binary_that_cannot_be_installed_is_left_out(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = binaries.Binary("haproxy", "haproxy", optional=True, where="/nonexistent/haproxy")
    others = [b for b in binaries.BINARIES if b.name != "haproxy"]
    monkeypatch.setattr(binaries, "BINARIES", (*others, absent))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # not root: nothing is installed
    decided = plan.plan(settings, _manager(settings))
    assert decided.left_out["haproxy"] == (
        "haproxy: haproxy is not installed and could not be installed here (not root): install "
        "the haproxy package (`sudo invoke install-deps`), or deploy with --no-infra"
    )
    assert "redis_exporter_tls" in decided.left_out  # HAProxy is its TLS front too
    assert decided.run == ["redis", "postgres", "redis_exporter", "postgres_exporter"]


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user PostgreSQL runs as that user")
def test_postgres_that_cannot_be_initialised_is_left_out(tmp_path: Path, rules_dir: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    settings = free_stack_settings(closed / "state", rules_dir=rules_dir, infra=True)
    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir)
    decided = Plan(run=list(PARTS))
    plan.prepare(settings, secrets, decided)
    line = decided.left_out["postgres"]
    assert line.startswith(f"postgres: the `postgres` user cannot reach {settings.state_dir}")
    assert "closed to others (mode 0700)" in line
    assert "--no-infra" in line
    assert decided.left_out["postgres_exporter"].startswith("postgres_exporter: needs postgres")
    assert not settings.layout.postgres_data.exists()


def test_rendered_files_pass_haproxy_and_promtool(settings: StackSettings) -> None:
    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir)
    ensure_certificates(settings)
    staged = configstore.staging_dir(settings.layout)
    render(settings, secrets, local_topology(settings, demo=True, infra=PARTS), staged)
    written = write_configs(settings, secrets, staged, PARTS)
    assert {p.name for p in written} == {"haproxy.cfg", "haproxy-redis-exporter.cfg", "redis.conf"}
    configstore.validate(staged, settings.rules_dir)  # promtool, amtool, haproxy -c
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert secrets.prometheus_password not in path.read_text()
    assert f'requirepass "{secrets.redis_password}"' in (staged / "redis.conf").read_text()
    pem = settings.layout.certs_dir / "haproxy.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    scrape = yaml.safe_load((staged / "prometheus.yml").read_text())["scrape_configs"]
    jobs = {job["job_name"]: job for job in scrape}
    for job, port in (
        ("haproxy", settings.haproxy_metrics_port),
        ("redis", settings.redis_exporter_port),
        ("postgres", settings.postgres_exporter_port),
    ):
        assert jobs[job]["scheme"] == "https"
        assert jobs[job]["basic_auth"]["username"] == secrets.prometheus_username
        assert jobs[job]["static_configs"][0]["targets"] == [f"127.0.0.1:{port}"]


def test_a_broken_haproxy_config_is_refused_naming_it(settings: StackSettings) -> None:
    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir)
    ensure_certificates(settings)
    staged = configstore.staging_dir(settings.layout)
    render(settings, secrets, local_topology(settings, demo=True, infra=PARTS), staged)
    write_configs(settings, secrets, staged, PARTS)
    with (staged / "haproxy.cfg").open("a") as config:
        config.write("  no-such-keyword\n")
    with pytest.raises(configstore.ConfigError, match=r"haproxy -c -f haproxy\.cfg failed"):
        configstore.validate(staged, settings.rules_dir)


def test_an_older_secrets_file_gets_the_infrastructure_passwords(tmp_path: Path) -> None:
    made, _ = Secrets.ensure(tmp_path)
    path = Secrets.path(tmp_path)
    older = [line for line in path.read_text().splitlines() if not line.startswith(INFRA_KEYS)]
    path.write_text("\n".join(older) + "\n")
    assert Secrets.load(tmp_path).redis_password == ""
    again, changed = Secrets.ensure(tmp_path)
    assert changed
    assert len(again.redis_password) == len(again.postgres_password) == 43
    assert again.prometheus_password == made.prometheus_password
    assert Secrets.ensure(tmp_path) == (again, False)
    assert again.redis_password not in repr(again)


def test_grafana_admin_is_the_guides_acgs_admin(settings: StackSettings) -> None:
    settings.layout.make()
    secrets, _ = Secrets.ensure(settings.state_dir)
    ensure_certificates(settings)
    staged = configstore.staging_dir(settings.layout)
    render(settings, secrets, local_topology(settings, demo=False), staged)
    assert "admin_user = acgs_admin\n" in (staged / "grafana" / "grafana.ini").read_text()
