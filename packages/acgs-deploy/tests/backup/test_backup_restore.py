"""Backup and restore against a real Prometheus and Alertmanager."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from acgs_deploy.backup.apistate import fetch_silences, restore_silences
from acgs_deploy.backup.archive import ArchiveError, Passphrase, ScryptParams
from acgs_deploy.backup.manifest import ManifestError
from acgs_deploy.backup.restore import (
    RestoreError,
    RestoreTargets,
    restore_backup,
    verify_backup,
)
from acgs_deploy.backup.snapshot import BackupSources, create_backup
from acgs_testkit.load import query_load
from acgs_testkit.servers import Server
from acgs_testkit.silences import make_silence

SETTLE_S = 2.0


def query_range(client: httpx.Client, query: str, start: float, end: float) -> list[object]:
    response = client.get(
        "/api/v1/query_range",
        params={"query": query, "start": start, "end": end, "step": max(1, (end - start) // 5000)},
    )
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return sorted(result, key=lambda series: json.dumps(series["metric"], sort_keys=True))


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def make_sources(server: Server, tmp_path: Path, am: Server | None) -> BackupSources:
    config = tmp_path / "state" / "config"
    (config / "rules").mkdir(parents=True, exist_ok=True)
    (config / "prometheus.yml").write_text("global: {}\n")
    (config / "rules" / "acgs.yml").write_text("groups: []\n")
    return BackupSources(
        prometheus=server.client(),
        prometheus_data_dir=server_data(server),
        alertmanager=am.client() if am else None,
        paths={"config": config},
    )


def server_data(server: Server) -> Path:
    assert server.data is not None
    return server.data


def targets_for(server: Server, sources: BackupSources, am: Server | None) -> RestoreTargets:
    return RestoreTargets(
        prometheus=server.client,
        prometheus_data_dir=sources.prometheus_data_dir,
        stop=server.stop,
        start=server.start,
        alertmanager=am.client if am else None,
        paths=sources.paths,
    )


def test_backup_wipe_restore_gives_the_same_samples(
    prometheus_server: Server,
    alertmanager_server: Server,
    tmp_path: Path,
    passphrase: Passphrase,
    fast_kdf: ScryptParams,
) -> None:
    am = alertmanager_server.client()
    make_silence(
        am,
        {"alertname": "ACGSServiceDown"},
        hours=2,
        created_by="backup-test",
        comment="maintenance",
    )
    sources = make_sources(prometheus_server, tmp_path, alertmanager_server)

    result = create_backup(
        sources, tmp_path / "backups", passphrase, params=fast_kdf, settle_s=SETTLE_S
    )

    manifest = result.manifest
    assert result.path.stat().st_mode & 0o777 == 0o600
    assert manifest.metrics["backup_test_total"].series == 20
    assert manifest.metrics["backup_test_total"].samples == 20 * 240
    assert manifest.metrics["up"].samples >= 1
    assert manifest.silences == 1
    assert {"config/prometheus.yml", "config/rules/acgs.yml", "alertmanager/silences.json"} <= {
        f.path for f in manifest.files
    }
    assert any(
        f.path.startswith("prometheus/") and f.path.endswith("/index") for f in manifest.files
    )
    assert not list((sources.prometheus_data_dir / "snapshots").iterdir())

    start, end = (t / 1000 for t in manifest.count_range_ms or (0, 0))
    client = prometheus_server.client()
    queries = ["backup_test_total", "up", "prometheus_http_requests_total"]
    before = {q: query_range(client, q, start, end) for q in queries}
    assert before["backup_test_total"]

    # Wipe everything the backup covers, as after losing the machine's data.
    prometheus_server.stop()
    alertmanager_server.stop()
    for directory in (
        sources.prometheus_data_dir,
        sources.paths["config"],
        tmp_path / "alertmanager" / "data",
    ):
        shutil.rmtree(directory)
        directory.mkdir()
    prometheus_server.start()
    alertmanager_server.start()
    assert query_range(client, "backup_test_total", start, end) == []

    restored = restore_backup(
        result.path, passphrase, targets_for(prometheus_server, sources, alertmanager_server)
    )

    assert restored.mismatches == []
    assert restored.silences == 1
    after = {q: query_range(client, q, start, end) for q in queries}
    assert after == before
    assert (sources.paths["config"] / "rules" / "acgs.yml").read_text() == "groups: []\n"
    silences = am.get("/api/v2/silences").json()
    assert [s["comment"] for s in silences if s["status"]["state"] == "active"] == ["maintenance"]


def damaged_copies(path: Path) -> dict[str, bytes]:
    data = path.read_bytes()
    middle = bytearray(data)
    middle[len(data) // 2] ^= 0x01
    header = bytearray(data)
    header[20] ^= 0x01
    last = bytearray(data)
    last[-1] ^= 0x80
    return {
        "flipped middle": bytes(middle),
        "flipped header": bytes(header),
        "flipped last": bytes(last),
        "truncated": data[: len(data) - 100],
        "extended": data + b"\n",
    }


def test_damaged_or_wrong_key_is_refused_and_nothing_changes(
    prometheus_server: Server,
    tmp_path: Path,
    passphrase: Passphrase,
    fast_kdf: ScryptParams,
) -> None:
    sources = make_sources(prometheus_server, tmp_path, None)
    good = create_backup(sources, tmp_path / "b", passphrase, params=fast_kdf, settle_s=SETTLE_S)
    assert verify_backup(good.path, passphrase).files == good.manifest.files

    stops: list[str] = []
    targets = targets_for(prometheus_server, sources, None)
    targets.stop = lambda: stops.append("stop")
    config_before = tree_digest(sources.paths["config"])
    blocks_before = sorted(p.name for p in sources.prometheus_data_dir.iterdir())

    cases = {name: (data, passphrase) for name, data in damaged_copies(good.path).items()}
    cases["wrong key"] = (good.path.read_bytes(), Passphrase("another key"))
    for name, (data, key) in cases.items():
        bad = tmp_path / f"{name.replace(' ', '-')}.acgsbak"
        bad.write_bytes(data)
        with pytest.raises((ArchiveError, ManifestError)) as refused:
            restore_backup(bad, key, targets)
        assert bad.name in str(refused.value), name
        assert "Traceback" not in str(refused.value)

    assert stops == []
    assert prometheus_server.running
    assert tree_digest(sources.paths["config"]) == config_before
    assert sorted(p.name for p in sources.prometheus_data_dir.iterdir()) == blocks_before
    assert not list(tmp_path.glob("state/*.restore-staging"))


def test_manifest_hash_mismatch_is_refused(
    prometheus_server: Server, tmp_path: Path, passphrase: Passphrase, fast_kdf: ScryptParams
) -> None:
    """A correctly encrypted archive whose file disagrees with its manifest is still refused."""
    from acgs_deploy.backup import snapshot

    sources = make_sources(prometheus_server, tmp_path, None)
    original = snapshot._add_file

    def add_file_then_lie(
        tar: tarfile.TarFile, file: Path, member: str, progress: object
    ) -> object:
        entry = original(tar, file, member, None)
        if member == "config/prometheus.yml":
            entry.sha256 = "0" * 64
        return entry

    snapshot._add_file = add_file_then_lie  # type: ignore[assignment]
    try:
        lying = create_backup(
            sources, tmp_path / "b", passphrase, params=fast_kdf, settle_s=SETTLE_S
        )
    finally:
        snapshot._add_file = original
    with pytest.raises(ManifestError, match=r"config/prometheus\.yml: size or SHA-256 differs"):
        verify_backup(lying.path, passphrase)


def test_backup_under_scrape_and_query_load_restores_cleanly(
    prometheus_server: Server, tmp_path: Path, passphrase: Passphrase, fast_kdf: ScryptParams
) -> None:
    sources = make_sources(prometheus_server, tmp_path, None)
    query = "rate(prometheus_http_requests_total[5s])"
    with query_load(prometheus_server.client, query) as answered:
        time.sleep(1)
        result = create_backup(
            sources, tmp_path / "b", passphrase, params=fast_kdf, settle_s=SETTLE_S
        )
        time.sleep(1)
    assert answered
    assert set(answered) == {200}

    restored = restore_backup(
        result.path, passphrase, targets_for(prometheus_server, sources, None)
    )
    assert restored.mismatches == []
    assert restored.manifest.total_samples > 20 * 240
    assert (sources.prometheus_data_dir.parent / restored.previous["prometheus"].name).is_dir()


def test_restore_reports_samples_prometheus_did_not_keep(
    prometheus_server: Server, tmp_path: Path, passphrase: Passphrase, fast_kdf: ScryptParams
) -> None:
    """A Prometheus whose retention is shorter than the backup's history drops the old blocks at
    start: the count check must name what is missing instead of reporting success."""
    sources = make_sources(prometheus_server, tmp_path, None)
    result = create_backup(sources, tmp_path / "b", passphrase, params=fast_kdf, settle_s=SETTLE_S)
    prometheus_server.argv = [
        "--storage.tsdb.retention.time=1h" if arg.startswith("--storage.tsdb.retention") else arg
        for arg in prometheus_server.argv
    ]

    restored = restore_backup(
        result.path, passphrase, targets_for(prometheus_server, sources, None)
    )

    missing = {m.metric: m for m in restored.mismatches}
    assert "backup_test_total" in missing
    assert missing["backup_test_total"].expected.samples == 20 * 240
    assert missing["backup_test_total"].found is None


def block_ids(data_dir: Path) -> set[str]:
    return {meta.parent.name for meta in data_dir.glob("*/meta.json")}


def test_failed_start_puts_the_previous_files_back(
    prometheus_server: Server, tmp_path: Path, passphrase: Passphrase, fast_kdf: ScryptParams
) -> None:
    """Prometheus cannot start after the swap (its port is taken) and a SIGTERM arrives then:
    the previous data and config go back, the stack starts on them, and the error says nothing
    was restored and that the signal was held until then."""
    sources = make_sources(prometheus_server, tmp_path, None)
    config, data = sources.paths["config"], sources.prometheus_data_dir
    result = create_backup(sources, tmp_path / "b", passphrase, params=fast_kdf, settle_s=SETTLE_S)
    (config / "prometheus.yml").write_text("global: {scrape_interval: 1s}\n")
    config_before, blocks_before = tree_digest(config), block_ids(data)

    targets = targets_for(prometheus_server, sources, None)
    configured: list[dict[str, str]] = []

    def configure() -> set[str]:
        configured.append(tree_digest(config))
        return set()

    starts: list[set[str]] = []

    def start_with_port_taken() -> None:
        starts.append(block_ids(data))
        if len(starts) > 1:
            prometheus_server.start()
            return
        os.kill(os.getpid(), signal.SIGTERM)  # held: pytest would die of it otherwise
        with socket.socket() as squatter:
            # The stopped Prometheus leaves TIME_WAIT connections on its port.
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", prometheus_server.port))
            squatter.listen()
            prometheus_server.start()

    targets.configure = configure
    targets.start = start_with_port_taken
    with pytest.raises(
        RestoreError, match=r"put back and what ran before runs on them again"
    ) as error:
        restore_backup(result.path, passphrase, targets)

    assert "exited" in str(error.value)
    assert str(error.value).endswith("(SIGTERM was held until this was done.)")
    # The first start saw the restored blocks, the second (after the roll-back) the old ones.
    assert starts[0] != blocks_before
    assert starts[1:] == [blocks_before]
    assert [c["prometheus.yml"] for c in configured] == [
        hashlib.sha256(b"global: {}\n").hexdigest(),
        config_before["prometheus.yml"],
    ]
    assert prometheus_server.running
    assert block_ids(data) == blocks_before
    assert tree_digest(config) == config_before
    assert not list(tmp_path.rglob("*.before-restore-*"))
    assert not list(tmp_path.rglob("*.restore-staging"))


def test_previous_copies_are_real_directories_and_only_the_latest_is_kept(
    prometheus_server: Server, tmp_path: Path, passphrase: Passphrase, fast_kdf: ScryptParams
) -> None:
    sources = make_sources(prometheus_server, tmp_path, None)
    # As configstore keeps it: config -> config.d/v-1, a version pruning may delete later.
    state, config = tmp_path / "state", sources.paths["config"]
    version = state / "config.d" / "v-1"
    version.parent.mkdir()
    config.rename(version)
    config.symlink_to(version.relative_to(state))
    result = create_backup(sources, tmp_path / "b", passphrase, params=fast_kdf, settle_s=SETTLE_S)
    targets = targets_for(prometheus_server, sources, None)

    first = restore_backup(result.path, passphrase, targets)

    aside = first.previous["config"]
    assert aside.is_dir()
    assert not aside.is_symlink()
    assert aside.parent == state
    assert (aside / "rules" / "acgs.yml").read_text() == "groups: []\n"
    assert first.previous_bytes["config"] == len("global: {}\n") + len("groups: []\n")
    assert first.previous_bytes["prometheus"] > 0
    assert first.pruned == []

    second = restore_backup(result.path, passphrase, targets)

    assert second.pruned == sorted(first.previous.values())
    for prefix, target in second.restored.items():
        copies = list(target.parent.glob(f"{target.name}.before-restore-*"))
        assert copies == [second.previous[prefix]]


def test_silences_come_back_once_however_often_restored(alertmanager_server: Server) -> None:
    """Alertmanager gives a re-created silence a new id and moves a start in the past to the
    moment of creation, so neither may identify it: restoring twice must not make two."""
    am = alertmanager_server.client()
    now = datetime.now(UTC)
    am.post(
        "/api/v2/silences",
        json={
            "matchers": [
                {"name": "service", "value": "gs", "isRegex": False},
                {"name": "alertname", "value": "ACGS.*", "isRegex": True},
            ],
            "startsAt": (now - timedelta(minutes=5)).isoformat(),
            "endsAt": (now + timedelta(hours=2)).isoformat(),
            "createdBy": "backup-test",
            "comment": "maintenance",
        },
    ).raise_for_status()
    saved = fetch_silences(am)
    ended = {**saved[0], "endsAt": (now - timedelta(minutes=1)).isoformat(), "comment": "over"}
    for silence in saved:
        am.delete(f"/api/v2/silence/{silence['id']}").raise_for_status()

    assert restore_silences(am, [*saved, ended]) == 1
    assert restore_silences(am, [*saved, ended]) == 0
    active = fetch_silences(am)
    assert [s["comment"] for s in active] == ["maintenance"]
    assert active[0]["id"] != saved[0]["id"]
    assert active[0]["startsAt"] != saved[0]["startsAt"]
