"""Fixtures: a real Prometheus (self-scraping, with older blocks from promtool) and Alertmanager."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from acgs_deploy.backup.archive import Passphrase, ScryptParams
from acgs_testkit.servers import Server, alertmanager, create_blocks, prometheus
from acgs_testkit.waiting import wait_for

HISTORY_SERIES = 20
HISTORY_POINTS = 240  # 1 h at 15 s


def write_history(path: Path, end_s: int) -> None:
    """An OpenMetrics file: HISTORY_SERIES counters over the hour ending 3 h before end_s."""
    start = end_s - 4 * 3600
    lines = [
        "# HELP backup_test_total history for backup tests",
        "# TYPE backup_test_total counter",
    ]
    for series in range(HISTORY_SERIES):
        for point in range(HISTORY_POINTS):
            value = point * (series + 1) + 0.5 * (point % 3)
            lines.append(f'backup_test_total{{shard="{series}"}} {value} {start + point * 15}')
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


def wait_for_scrapes(server: Server, count: int) -> None:
    """Until the head holds `count` self-scrapes (discovery starts scraping after ~5 s)."""

    def scrapes() -> float:
        reply = client.get("/api/v1/query", params={"query": "count_over_time(up[1m])"})
        result = reply.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    with server.client() as client:
        wait_for(lambda: scrapes() >= count, 30, f"{count} self-scrapes")


@pytest.fixture
def passphrase() -> Passphrase:
    return Passphrase("test passphrase, not a real key")


@pytest.fixture
def fast_kdf() -> ScryptParams:
    return ScryptParams(n=1 << 12, r=8, p=1)


@pytest.fixture
def prometheus_server(tmp_path: Path) -> Iterator[Server]:
    workdir = tmp_path / "prometheus"
    history = tmp_path / "history.om"
    write_history(history, int(time.time()))
    create_blocks(history, workdir / "data")
    server = prometheus(workdir, retention="3650d")
    try:
        server.start()
        wait_for_scrapes(server, 4)
        yield server
    finally:
        server.stop()


@pytest.fixture
def alertmanager_server(tmp_path: Path) -> Iterator[Server]:
    server = alertmanager(tmp_path / "alertmanager")
    try:
        server.start()
        yield server
    finally:
        server.stop()
