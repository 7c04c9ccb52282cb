"""The committed HAProxy, Redis and PostgreSQL exporter lists are what the refresh script
writes from the real exporters (``nox -s refresh_exporter_metrics``), not hand edits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from acgs_testkit.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "packages" / "acgs-promql"
LISTS = ("haproxy_exporter", "redis_exporter", "postgres_exporter")


def test_infrastructure_lists_match_the_running_exporters(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(PACKAGE / "scripts" / "scrape_known_metrics.py"),
         "--out", str(tmp_path), *LISTS],
        check=False, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    committed = PACKAGE / "src" / "acgs_promql" / "data" / "known_metrics"
    for name in LISTS:
        fresh = (tmp_path / f"{name}.txt").read_text().splitlines()
        assert len(fresh) > 100, name
        assert (committed / f"{name}.txt").read_text().splitlines() == fresh, (
            f"{name}.txt differs from the exporters: run nox -s refresh_exporter_metrics"
        )
