"""Backup and restore on the whole local stack (TLS, basic auth, acgs-sim scraped every 5 s):
backup, wipe the data, restore, the same samples before and after; damaged files and a wrong key
refused with nothing changed; a backup taken under scrape and query load restores cleanly.
Run by `nox -s stack`."""

from __future__ import annotations

import hashlib
import shutil
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from rich.console import Console

from acgs_deploy import backends, commands
from acgs_deploy.backends.base import DeployOptions, Report
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.backup.archive import Passphrase
from acgs_deploy.backup.restore import verify_backup
from acgs_deploy.backup.run import stack_origin
from acgs_deploy.client import stack_client
from acgs_deploy.exitcodes import EXIT_FAILED, EXIT_USAGE
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings
from acgs_testkit.load import query_load
from acgs_testkit.ports import free_stack_settings
from acgs_testkit.stack import deployed_stack
from acgs_testkit.waiting import poll, wait_for

pytestmark = pytest.mark.stack

QUERIES = ("up", "acgs_constitutional_compliance_score", "prometheus_tsdb_head_series")


def deploy(settings: StackSettings, demo: bool | None = None) -> Report:
    return backends.deploy(LocalBackend(settings, DeployOptions(demo=demo)))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    started = time.time()
    with deployed_stack(tmp_path_factory.mktemp("backup-stack")) as settings:
        # A backup counts samples up to 30 s before its snapshot: wait until every queried
        # metric (Prometheus' own are scraped only every 15 s) has samples before that.
        wait_for(
            lambda: (
                time.time() - 35 > started
                and all(query_range(settings, q, started, time.time() - 35) for q in QUERIES)
            ),
            150,
            f"samples of {QUERIES}",
            every_s=2,
        )
        yield settings


def query_range(settings: StackSettings, query: str, start: float, end: float) -> list[Any]:
    with stack_client(settings, "prometheus") as client:
        step = max(1, int(end - start) // 2000)
        reply = client.get(
            "/api/v1/query_range",
            params={"query": query, "start": start, "end": end, "step": step},
        )
    reply.raise_for_status()
    return sorted(reply.json()["data"]["result"], key=lambda s: sorted(s["metric"].items()))


def data_digest(settings: StackSettings) -> dict[str, str]:
    root = settings.layout.prometheus_data
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and "wal" not in p.parts
        and "chunks_head" not in p.parts
        and p.name not in ("queries.active", "lock")
    }


def newest_backup(settings: StackSettings) -> Path:
    return max(settings.layout.backups_dir.glob("*.acgsbak"))


def test_backup_wipe_restore_same_samples(deployed: StackSettings) -> None:
    now = datetime.now(UTC)
    with stack_client(deployed, "alertmanager") as am:
        am.post(
            "/api/v2/silences",
            json={
                "matchers": [{"name": "service", "value": "gs", "isRegex": False}],
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(hours=1)).isoformat(),
                "createdBy": "backup-stack-test",
                "comment": "planned maintenance",
            },
        ).raise_for_status()

    assert commands.backup(settings=deployed) == 0
    backup = newest_backup(deployed)
    assert backup.stat().st_mode & 0o777 == 0o600
    manifest = verify_backup(
        backup, Passphrase(Secrets.load(deployed.state_dir).backup_encryption_key)
    )
    assert manifest.metrics["acgs_constitutional_compliance_score"].samples > 0
    assert manifest.silences == 1
    assert "monitoring.env" in {f.path for f in manifest.files}
    assert manifest.count_range_ms is not None
    start, end = (t / 1000 for t in manifest.count_range_ms)
    before = {q: query_range(deployed, q, start, end) for q in QUERIES}
    assert all(before.values())

    # Lose the data: stop, wipe Prometheus' and Alertmanager's data, start empty.
    LocalBackend(deployed).down()
    for directory in (deployed.layout.prometheus_data, deployed.layout.alertmanager_data):
        shutil.rmtree(directory)
        directory.mkdir()
    deploy(deployed, demo=True)
    assert query_range(deployed, "acgs_constitutional_compliance_score", start, end) == []

    assert commands.restore(settings=deployed, backup_file=backup) == 0

    after = {q: query_range(deployed, q, start, end) for q in QUERIES}
    assert after == before
    with stack_client(deployed, "alertmanager") as am:
        silences = am.get("/api/v2/silences").json()
    assert [s["comment"] for s in silences if s["status"]["state"] == "active"] == [
        "planned maintenance"
    ]


def test_damaged_or_wrong_key_refused_and_nothing_changes(
    deployed: StackSettings, tmp_path: Path
) -> None:
    assert commands.backup(settings=deployed, out=tmp_path) == 0
    good = max(tmp_path.glob("*.acgsbak"))
    data = good.read_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0x04
    cases = {
        "flipped.acgsbak": (bytes(flipped), None),
        "truncated.acgsbak": (data[: len(data) * 2 // 3], None),
        "wrong-key.acgsbak": (data, "not the stack's key"),
    }
    blocks_before = data_digest(deployed)
    pids_before = {s.name: s.pid for s in LocalBackend(deployed).status().components}
    for name, (content, key) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        key_file = None
        if key:
            key_file = tmp_path / "other.key"
            key_file.write_text(key + "\n")
        console = Console(record=True, width=200)
        code = commands.restore(
            settings=deployed,
            backup_file=path,
            key_file=key_file,
            console=console,
        )
        assert code == EXIT_FAILED, name
        code = commands.verify_backup(settings=deployed, backup_file=path, key_file=key_file)
        assert code == EXIT_FAILED, name
    assert {s.name: s.pid for s in LocalBackend(deployed).status().components} == pids_before
    assert data_digest(deployed) == blocks_before
    assert not list(deployed.state_dir.rglob("*.restore-staging"))


def test_backup_under_scrape_and_query_load_restores_cleanly(deployed: StackSettings) -> None:
    query = "sum by (job) (rate(scrape_samples_scraped[1m]))"
    with query_load(
        lambda: stack_client(deployed, "prometheus"), query, window_s=300, step="5"
    ) as statuses:
        code = commands.backup(settings=deployed, keep_last=1)
    assert code == 0
    assert statuses
    assert set(statuses) == {200}
    assert len(list(deployed.layout.backups_dir.glob("*.acgsbak"))) == 1
    assert commands.restore(settings=deployed, backup_file=newest_backup(deployed)) == 0


def test_bad_arguments_and_unwritable_out_are_refused_before_any_work(
    deployed: StackSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backups = sorted(deployed.layout.backups_dir.glob("*.acgsbak"))
    assert commands.backup(settings=deployed, keep_last=0) == EXIT_USAGE
    assert commands.backup(settings=deployed, keep_days=-1) == EXIT_USAGE
    assert sorted(deployed.layout.backups_dir.glob("*.acgsbak")) == backups
    capsys.readouterr()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert commands.backup(settings=deployed, out=blocker / "out") == EXIT_FAILED
    assert "a-file/out: cannot write backups there" in capsys.readouterr().err
    assert not list((deployed.layout.prometheus_data / "snapshots").glob("*"))


def _monitoring_up(targets: list[dict[str, Any]]) -> bool:
    """Prometheus, Alertmanager and node_exporter are scraped, and up."""
    monitoring = [t for t in targets if not t["labels"]["job"].startswith("acgs-")]
    return len(monitoring) == 3 and all(t["health"] == "up" for t in monitoring)


def scrape_targets(settings: StackSettings) -> tuple[list[dict[str, Any]], list[str]]:
    """(active targets, Alertmanager URLs) as this stack's Prometheus sees them."""
    with stack_client(settings, "prometheus") as client:
        targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
        managers = client.get("/api/v1/alertmanagers").json()["data"]["activeAlertmanagers"]
    return targets, [m["url"] for m in managers]


def test_restore_into_another_stack_scrapes_that_stack(
    deployed: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Stack 1's backup restored into stack 2 (another state dir, other ports): stack 2 scrapes
    its own services and alerts its own Alertmanager, with its own certificate paths."""
    root = tmp_path_factory.mktemp("other-stack")
    assert commands.backup(settings=deployed, out=root / "backups") == 0
    backup = max((root / "backups").glob("*.acgsbak"))
    key = root / "stack1.key"
    key.write_text(Secrets.load(deployed.state_dir).backup_encryption_key + "\n")
    other = free_stack_settings(root / "state", rules_dir=deployed.rules_dir)
    try:
        deploy(other, demo=False)
        console = Console(record=True, width=400)
        code = commands.restore(settings=other, backup_file=backup, key_file=key, console=console)
        assert code == 0, console.export_text()
        assert "restored into another stack" in console.export_text()

        own, theirs = set(other.ports().values()), set(deployed.ports().values())
        targets, managers = poll(
            lambda: scrape_targets(other), lambda seen: _monitoring_up(seen[0]), 60, every_s=1
        )
        assert _monitoring_up(targets), f"stack 2 does not scrape itself: {targets}"
        scraped = {urlsplit(t["scrapeUrl"]).port for t in targets}
        assert len(targets) == 10
        assert scraped <= own
        assert not scraped & theirs
        assert [urlsplit(url).port for url in managers] == [other.alertmanager_port]
        web = (other.layout.config_dir / "web.yml").read_text()
        assert str(other.layout.server_cert) in web
        rendered = [p for p in other.layout.config_dir.rglob("*") if p.is_file()]
        assert not [p for p in rendered if str(deployed.state_dir) in p.read_text()]

        origin = verify_backup(backup, Passphrase(key.read_text().strip())).origin
        assert origin is not None
        assert origin.state_dir == str(deployed.state_dir.resolve())
        moved = origin.differences(stack_origin(other))
        assert f"prometheus {deployed.prometheus_port} -> {other.prometheus_port}" in moved[-1]
    finally:
        LocalBackend(other).down()


def test_failed_start_after_the_swap_rolls_back(
    deployed: StackSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prometheus cannot start on the restored files (its port is taken once the configuration
    is rendered): the restore puts the previous files back, starts the stack on them and fails."""
    assert commands.backup(settings=deployed, out=tmp_path) == 0
    backup = max(tmp_path.glob("*.acgsbak"))
    env_before = deployed.layout.env_file.read_bytes()
    blocks_before = {k for k in data_digest(deployed) if k.endswith("meta.json")}
    squatter: list[socket.socket] = []
    real_configure = LocalBackend.configure

    def configure_then_take_the_port(backend: LocalBackend) -> set[str]:
        changed = real_configure(backend)
        settings = backend.settings
        if squatter:  # the roll-back: free the port again
            squatter.pop().close()
        else:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((settings.host, settings.prometheus_port))
            sock.listen()
            squatter.append(sock)
        return changed

    monkeypatch.setattr(LocalBackend, "configure", configure_then_take_the_port)
    capsys.readouterr()
    try:
        code = commands.restore(settings=deployed, backup_file=backup)
    finally:
        for sock in squatter:
            sock.close()
    err = " ".join(capsys.readouterr().err.split())
    assert code == EXIT_FAILED
    assert "prometheus exited at start" in err
    assert "put back and what ran before runs on them again: nothing was restored" in err
    assert {
        s.name: s.state for s in LocalBackend(deployed).status().components if s.name != "grafana"
    } == {
        "webhook": "healthy",
        "acgs-sim": "healthy",
        "node_exporter": "healthy",
        "alertmanager": "healthy",
        "prometheus": "healthy",
    }
    assert deployed.layout.env_file.read_bytes() == env_before
    assert {k for k in data_digest(deployed) if k.endswith("meta.json")} == blocks_before
    assert not list(deployed.state_dir.rglob("*.restore-staging"))
