"""The demo stack with its infrastructure, on real processes (free ports, a temporary state
directory): HAProxy in front of acgs-sim with its native exporter, Redis and PostgreSQL with
theirs. Scraped through TLS and auth, refusing plain HTTP and missing credentials; a request
through HAProxy counted by HAProxy and by the service; a PostgreSQL row and a Redis key
through backup and restore; a taken port leaving its part out while the rest comes up.
Run by `nox -s stack`."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from acgs_deploy import commands
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.backup.run import run_backup, run_restore
from acgs_deploy.client import ComponentName, base_url, query, stack_client
from acgs_deploy.health import stack_health
from acgs_deploy.infra import PARTS, postgres, redis
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_metrics import SERVICE_NAMES
from acgs_testkit.ports import free_port, free_stack_settings
from acgs_testkit.stack import deployed_stack
from acgs_testkit.waiting import poll, wait_for

pytestmark = pytest.mark.stack

EXPORTERS: tuple[ComponentName, ...] = ("haproxy", "redis_exporter", "postgres_exporter")
INFRA_JOBS = ("haproxy", "redis", "postgres")


@contextmanager
def reachable_root() -> Iterator[Path]:
    """A scratch directory the `postgres` user can enter (pytest's own is 0700 all the way)."""
    root = Path(tempfile.mkdtemp(prefix="acgs-infra-"))
    root.chmod(0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def deployed() -> Iterator[StackSettings]:
    with reachable_root() as root, deployed_stack(root, infra=True) as settings:
        yield settings


def _targets(settings: StackSettings) -> dict[str, str]:
    with stack_client(settings, "prometheus") as client:
        data = client.get("/api/v1/targets").json()["data"]["activeTargets"]
    return {t["labels"]["job"]: t["health"] for t in data}


def test_every_part_runs_and_the_three_jobs_are_up(deployed: StackSettings) -> None:
    states = {s.name: s.state for s in LocalBackend(deployed).status().components}
    assert {part: states[part] for part in PARTS} == dict.fromkeys(PARTS, "healthy")
    up = poll(lambda: _targets(deployed), lambda t: all(t.get(j) == "up" for j in INFRA_JOBS), 60)
    assert {job: up.get(job) for job in INFRA_JOBS} == dict.fromkeys(INFRA_JOBS, "up")
    checks = {check.name: check for check in stack_health(deployed)}
    assert checks["targets"].status in ("ok", "warn"), checks["targets"].detail
    assert set(INFRA_JOBS) <= set(checks["targets"].data["expected_jobs"])
    for part in PARTS:
        assert checks[part].status == "ok", checks[part].detail
    with stack_client(deployed, "prometheus") as client:
        for metric in ("haproxy_process_start_time_seconds", "redis_up", "pg_up"):
            assert float(query(client, metric)[0]["value"][1]) > 0, metric
        # One backend per service, each with its server up (HAProxyBackendDown's expression).
        backends = poll(
            lambda: query(client, "haproxy_backend_active_servers"),
            lambda found: len(found) == 7 and all(b["value"][1] == "1" for b in found),
            60,
        )
        assert sorted(b["metric"]["proxy"] for b in backends) == sorted(
            f"acgs-{name}" for name in SERVICE_NAMES
        )


def test_exporters_refuse_plain_http_and_missing_credentials(deployed: StackSettings) -> None:
    secrets = Secrets.load(deployed.state_dir)
    for server in EXPORTERS:
        url = f"{base_url(deployed, server)}/metrics"
        try:
            plain = httpx.get(url.replace("https://", "http://"), timeout=5).status_code
        except httpx.TransportError:
            plain = 0  # HAProxy drops a request that is not a TLS handshake
        assert plain in (0, 400), (server, "plain HTTP answered", plain)
        with stack_client(deployed, server, auth=False, timeout=5) as client:
            assert client.get(url).status_code == 401, (server, "no credentials")
            wrong = client.get(url, auth=(secrets.prometheus_username, "wrong"))
            assert wrong.status_code == 401, (server, "wrong password")
        with stack_client(deployed, server, timeout=5) as client:
            assert client.get(url).status_code == 200, server


def _haproxy_4xx(settings: StackSettings, backend: str) -> float:
    with stack_client(settings, "haproxy") as client:
        text = client.get("/metrics").text
    pattern = rf'^haproxy_backend_http_responses_total{{proxy="{backend}",code="4xx"}} (\S+)$'
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"no 4xx counter for {backend}"
    return float(found.group(1))


def _service_404s(settings: StackSettings, index: int) -> float:
    port = settings.sim_base_port + index
    text = httpx.get(f"http://{settings.sim_host}:{port}/metrics", timeout=5).text
    found = re.search(
        r'^acgs_http_requests_total{endpoint="/other",method="GET",service="gs",'
        r'status_code="404"} (\S+)$',
        text,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def test_a_request_through_haproxy_moves_both_counters(deployed: StackSettings) -> None:
    gs = 4  # acgs-gs, service number 4 of the guide's list
    before = (_haproxy_4xx(deployed, "acgs-gs"), _service_404s(deployed, gs))
    front = f"http://{deployed.connect_host}:{deployed.haproxy_port}"
    sent = 5
    for _ in range(sent):
        # A route no simulated traffic uses: only these requests can count there.
        answer = httpx.get(f"{front}/gs/no-such-route", timeout=5)
        assert answer.status_code == 404
        assert answer.json()["service"] == "gs"  # the service's answer, not HAProxy's
    after = (_haproxy_4xx(deployed, "acgs-gs"), _service_404s(deployed, gs))
    assert after[1] - before[1] == sent
    assert after[0] - before[0] >= sent
    unknown = httpx.get(f"{front}/no-such-service/x", timeout=5)
    assert unknown.status_code == 404
    assert "no such service" in unknown.text


def _psql(settings: StackSettings, sql: str) -> str:
    binary = postgres.bin_dir()
    assert binary is not None
    env = postgres.client_env(settings, Secrets.load(settings.state_dir))
    done = subprocess.run(
        [str(binary / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.strip()


def _redis(settings: StackSettings, *words: str) -> bytes:
    return redis.command(settings, Secrets.load(settings.state_dir).redis_password, *words)


def test_backup_and_restore_bring_back_a_row_and_a_key(
    deployed: StackSettings, tmp_path: Path
) -> None:
    console = Console(file=open(tmp_path / "console.txt", "w"))  # noqa: SIM115 (closed below)
    try:
        _psql(deployed, "CREATE TABLE IF NOT EXISTS restore_probe (note text)")
        _psql(deployed, "INSERT INTO restore_probe VALUES ('kept by the backup')")
        _redis(deployed, "SET", "acgs:restore-probe", "kept by the backup")
        backup = run_backup(
            deployed, out_dir=tmp_path, key_file=None, keep_last=None, keep_days=None,
            console=console,
        )  # fmt: skip
        _psql(deployed, "DELETE FROM restore_probe")
        _redis(deployed, "DEL", "acgs:restore-probe")
        assert _psql(deployed, "SELECT count(*) FROM restore_probe") == "0"
        run_restore(deployed, backup, None, console)
    finally:
        console.file.close()
    assert _psql(deployed, "SELECT note FROM restore_probe") == "kept by the backup"
    assert _redis(deployed, "GET", "acgs:restore-probe") == b"kept by the backup"
    # The copies the backup made for the archive are gone again.
    assert not deployed.layout.postgres_dump.exists()
    assert not (deployed.layout.data_dir / "redis.rdb").exists()
    states = {s.name: s.state for s in LocalBackend(deployed).status().components}
    assert {part: states[part] for part in PARTS} == dict.fromkeys(PARTS, "healthy")
    # And onto a new machine: an empty state directory, the backup file and its key.
    other = free_stack_settings(
        deployed.state_dir.parent / "new-machine", rules_dir=deployed.rules_dir, infra=True
    )
    key = tmp_path / "backup.key"
    key.write_text(Secrets.load(deployed.state_dir).backup_encryption_key)
    key.chmod(0o600)
    try:
        with (tmp_path / "new-machine.txt").open("w") as out:
            assert run_restore(other, backup, key, Console(file=out))
        assert _psql(other, "SELECT note FROM restore_probe") == "kept by the backup"
        assert _redis(other, "GET", "acgs:restore-probe") == b"kept by the backup"
    finally:
        LocalBackend(other).down()


def test_no_infra_stops_it_and_infra_brings_it_back(deployed: StackSettings) -> None:
    console = Console(record=True, width=300)
    assert commands.deploy(no_infra=True, settings=deployed, console=console) == 0
    running = LocalBackend(deployed).running()
    assert not set(PARTS) & set(running)
    assert {"acgs-sim", "prometheus"} <= set(running)  # still the demo, without its stores
    with stack_client(deployed, "prometheus") as client:
        jobs = {
            t["labels"]["job"]
            for t in client.get("/api/v1/targets").json()["data"]["activeTargets"]
        }
    assert not set(INFRA_JOBS) & jobs
    # Status describes what runs: the parts left out on purpose are not missed.
    assert commands.status(settings=deployed, console=console) == 0
    assert not set(PARTS) & {s.name for s in LocalBackend(deployed).status().components}
    assert commands.deploy(infra=True, settings=deployed, console=console) == 0
    assert set(PARTS) <= set(LocalBackend(deployed).running())


def test_a_taken_port_leaves_its_part_out_and_the_rest_comes_up() -> None:
    with reachable_root() as root, socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        with deployed_stack(root, infra=True, haproxy_port=port) as settings:
            # Again, to see what a person sees: one line naming HAProxy and what to do.
            console = Console(record=True, width=300)
            assert commands.deploy(demo=True, settings=settings, console=console) == 0
            output = console.export_text()
            assert f"haproxy port {port} on 127.0.0.1 is in use by another program" in output
            status = LocalBackend(settings).status().components
            states = {s.name: (s.state, s.hint) for s in status}
            assert states["haproxy"][0] == "left out"
            assert "choose another haproxy_port" in states["haproxy"][1]
            for part in ("redis", "postgres", "redis_exporter_tls", "postgres_exporter"):
                assert states[part][0] == "healthy", part
            assert states["prometheus"][0] == "healthy"
            checks = {check.name: check for check in stack_health(settings)}
            assert checks["haproxy"].status == "warn"
            assert checks["haproxy"].detail.startswith("left out: haproxy_port:")
            wait_for(lambda: _targets(settings).get("redis") == "up", 60, "redis job up")
            assert "haproxy" not in _targets(settings)
