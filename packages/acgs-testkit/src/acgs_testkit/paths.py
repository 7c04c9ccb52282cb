"""Where the checkout is, found the one way every tool finds it."""

from __future__ import annotations

from pathlib import Path

from acgs_promql.repository import find_repo_root

__all__ = ["REPO_ROOT"]

REPO_ROOT = find_repo_root(Path(__file__))
