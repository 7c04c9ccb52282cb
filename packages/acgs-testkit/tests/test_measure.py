"""measure_module reports the child's own peak RSS, not its parent's (Linux keeps
ru_maxrss across exec: a benchmark holding a big input made every child look as big)."""

from __future__ import annotations

import json
from pathlib import Path

from acgs_testkit.benchmarks import measure_module


def test_a_small_child_of_a_large_process_reports_its_own_peak(tmp_path: Path) -> None:
    held = bytearray(300 * 1024 * 1024)
    held[::4096] = b"\x01" * len(held[::4096])  # touch every page: resident
    document = tmp_path / "doc.json"
    document.write_text(json.dumps({"a": [1, 2]}))
    run = measure_module("json.tool", "--compact", str(document))
    assert run.returncode == 0
    assert json.loads(run.stdout) == {"a": [1, 2]}
    assert 1 < run.peak_rss_mib < 100
    assert len(held) == 300 * 1024 * 1024  # still held while the child ran


def test_a_large_child_reports_its_size(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps(["x" * 100] * 500_000))  # about 50 MB parsed
    run = measure_module("json.tool", "--compact", str(big))
    assert run.returncode == 0
    assert run.peak_rss_mib > 100
