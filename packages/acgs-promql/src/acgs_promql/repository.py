"""Where the repository is: the one way every tool finds a checkout's root.

The linters resolve runbook links and default rule and dashboard folders against the
repository being linted; acgs-deploy finds this toolkit's own configs, rules and dashboards
from the checkout it is installed in. Both ask :func:`find_repo_root`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["find_repo_root"]


def find_repo_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` with a ``.git`` entry, else the current
    directory (a copy without git history is worked on from its root)."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return Path.cwd()
