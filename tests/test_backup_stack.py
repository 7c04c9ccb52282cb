"""Backup and restore on the whole local stack (TLS, basic auth, acgs-sim scraped every 5 s):
backup, wipe the data, restore, the same samples before and after; damaged files and a wrong key
refused with nothing changed; a backup taken under scrape and query load restores cleanly.
A restore interrupted by SIGTERM, onto a stopped stack, and onto a new machine from the backup
file and the key alone. Run by `nox -s stack`."""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
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
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_stack_settings
from acgs_testkit.silences import make_silence
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
    with stack_client(deployed, "alertmanager") as am:
        make_silence(
            am, {"service": "gs"}, created_by="backup-stack-test", comment="planned maintenance"
        )

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


def stack_file_of(settings: StackSettings) -> Path:
    """The stack file `deployed_stack` wrote beside the state directory (ports, rules)."""
    return settings.state_dir.parent / "stack.yml"


def healthy_components(settings: StackSettings) -> dict[str, str]:
    return {
        s.name: s.state for s in LocalBackend(settings).status().components if s.name != "grafana"
    }


ALL_HEALTHY = dict.fromkeys(
    ("webhook", "acgs-sim", "node_exporter", "alertmanager", "prometheus"), "healthy"
)


def active_silences(settings: StackSettings) -> list[str]:
    with stack_client(settings, "alertmanager") as am:
        found = am.get("/api/v2/silences").json()
    return sorted(s["comment"] for s in found if s["status"]["state"] == "active")


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def test_sigterm_while_the_stack_is_stopped_finishes_the_restore_first(
    deployed: StackSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real `restore` process gets SIGTERM again and again from the moment it stops the
    stack: it finishes (the stack runs, on the restored data), says so, and exits 1. A deploy
    meanwhile is refused, naming the restore."""
    assert commands.backup(settings=deployed, out=tmp_path) == 0
    backup = max(tmp_path.glob("*.acgsbak"))
    manifest = verify_backup(
        backup, Passphrase(Secrets.load(deployed.state_dir).backup_encryption_key)
    )
    assert manifest.count_range_ms is not None
    start, end = (t / 1000 for t in manifest.count_range_ms)
    before = query_range(deployed, "acgs_constitutional_compliance_score", start, end)
    argv = [sys.executable, "-m", "acgs_deploy.backup", "restore", "--backup-file", str(backup)]
    argv += ["--state-dir", str(deployed.state_dir), "--stack-file", str(stack_file_of(deployed))]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300"}
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out: queue.Queue[str] = queue.Queue()
    errors: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, out), daemon=True).start()
    err_reader = threading.Thread(target=_lines, args=(process.stderr, errors), daemon=True)
    err_reader.start()
    try:
        seen: list[str] = []
        while not any(re.search(r"\bstop\b", line) for line in seen):
            seen.append(out.get(timeout=120))
        capsys.readouterr()
        assert commands.deploy(settings=deployed) == EXIT_FAILED
        refused = " ".join(capsys.readouterr().err.split())
        assert f"a restore (pid {process.pid}) is running on {deployed.state_dir}" in refused
        # Again and again until the restore says it holds the signal (one sent after the
        # stack runs again would be honoured at once, as it should be).
        err_lines: list[str] = []
        for _ in range(10):
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(queue.Empty):
                err_lines.append(errors.get(timeout=0.05))
            if any("SIGTERM received" in line for line in err_lines):
                break
        code = process.wait(timeout=240)
        err_reader.join(timeout=30)  # the stream ends with the process
        while not errors.empty():
            err_lines.append(errors.get())
        err = " ".join("".join(err_lines).split())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == EXIT_FAILED, err
    assert "SIGTERM received: the restore has the stack stopped; it finishes" in err
    assert "restore: error: interrupted by SIGTERM while the stack was stopped" in err
    assert "the stack runs on the restored files" in err
    assert healthy_components(deployed) == ALL_HEALTHY
    assert query_range(deployed, "acgs_constitutional_compliance_score", start, end) == before
    assert not list(deployed.state_dir.rglob("*.restore-staging"))


def test_restore_onto_a_stopped_stack_with_its_data_emptied(
    deployed: StackSettings, tmp_path: Path
) -> None:
    assert commands.backup(settings=deployed, out=tmp_path) == 0
    backup = max(tmp_path.glob("*.acgsbak"))
    LocalBackend(deployed).down()
    shutil.rmtree(deployed.layout.prometheus_data)
    deployed.layout.prometheus_data.mkdir()
    console = Console(record=True, width=300)
    assert commands.restore(settings=deployed, backup_file=backup, console=console) == 0, (
        console.export_text()
    )
    assert healthy_components(deployed) == ALL_HEALTHY


def test_disaster_recovery_from_the_backup_file_and_the_key_alone(
    deployed: StackSettings, tmp_path: Path
) -> None:
    """The steps of docs/backup.md, "Recovering on a new machine": the backup file and the
    key (its monitoring.env line, copied as it stands) are all that is left; the state
    directory is gone. `invoke restore` brings the whole stack back with every series."""
    with stack_client(deployed, "alertmanager") as am:
        make_silence(
            am, {"service": "ec"}, hours=3, created_by="dr-test", comment="disaster recovery drill"
        )
    silences = active_silences(deployed)
    assert commands.backup(settings=deployed, out=tmp_path / "offsite") == 0
    backup = max((tmp_path / "offsite").glob("*.acgsbak"))
    env_lines = deployed.layout.env_file.read_text().splitlines()
    key = tmp_path / "offsite" / "backup.key"
    key.write_text(next(line for line in env_lines if line.startswith("BACKUP_ENCRYPTION_KEY=")))
    manifest = verify_backup(
        backup, Passphrase(Secrets.load(deployed.state_dir).backup_encryption_key)
    )
    assert manifest.count_range_ms is not None
    start, end = (t / 1000 for t in manifest.count_range_ms)
    before = {q: query_range(deployed, q, start, end) for q in QUERIES}

    assert commands.down(settings=deployed) == 0
    shutil.rmtree(deployed.state_dir)
    # Step 3: the settings a lost stack file held, shown by verify from the file and key alone.
    console = Console(record=True, width=2000)
    code = commands.verify_backup(
        settings=deployed, backup_file=backup, key_file=key, console=console
    )
    assert code == 0
    shown = " ".join(console.export_text().split())
    assert f"prometheus_port: {deployed.prometheus_port}," in shown
    assert f"rules_dir: {deployed.rules_dir}" in shown
    assert not deployed.state_dir.exists()
    argv = [sys.executable, "-m", "invoke", "restore", "--backup-file", str(backup)]
    argv += ["--key-file", str(key), "--state-dir", str(deployed.state_dir)]
    argv += ["--stack-file", str(stack_file_of(deployed))]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    assert healthy_components(deployed) == ALL_HEALTHY
    assert {q: query_range(deployed, q, start, end) for q in QUERIES} == before
    assert deployed.layout.env_file.read_text().splitlines() == env_lines
    assert active_silences(deployed) == silences
    # The same backup again: the counts still match and no silence is doubled.
    assert commands.restore(settings=deployed, backup_file=backup, key_file=key) == 0
    assert active_silences(deployed) == silences
