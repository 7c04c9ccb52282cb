"""Fixtures: built dashboards, and a real Prometheus scraping the ACGS simulator.

The live stack (:func:`acgs_testkit.stack.local_stack`) is real programs on free
loopback ports in a temporary directory: acgs-sim, Prometheus with the repository's
``rules/``, Alertmanager and node_exporter, all stopped when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from acgs_dashboards.build import build_all
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.stack import LocalStack, local_stack


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's dashboards built once for the session."""
    out = tmp_path_factory.mktemp("built")
    build_all(out, source_dir=REPO_ROOT / "dashboards")
    return out


@pytest.fixture(scope="session")
def live() -> Iterator[LocalStack]:
    with local_stack([REPO_ROOT / "rules" / "*.yml"]) as stack:
        yield stack
