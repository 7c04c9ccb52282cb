"""Multiprocess mode: several worker processes (gunicorn, uvicorn --workers), one exposition.

prometheus_client switches every metric to memory-mapped files when
``PROMETHEUS_MULTIPROC_DIR`` is set *before* the metrics are created. A scrape then reads
all files in that directory through a ``MultiProcessCollector`` in a fresh registry, so
any worker can answer for all of them.

- Empty the directory before the workers start (stale files of an earlier run would be
  added in).
- Call :func:`mark_process_dead` with a worker's pid when it exits (gunicorn: in the
  ``child_exit`` hook), so ``live*`` gauges drop that worker's values.
- Counters and histograms are summed across processes; each catalog gauge says how its
  values combine (``MetricSpec.multiprocess_mode``).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry
from prometheus_client import multiprocess as _multiprocess

__all__ = [
    "ENV_VAR",
    "check_multiprocess_dir",
    "mark_process_dead",
    "multiprocess_dir",
    "scrape_registry",
]

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The multiprocess directory when multiprocess mode is on, else None."""
    return os.environ.get(ENV_VAR) or None


def check_multiprocess_dir() -> None:
    """Fail early, and clearly, when multiprocess mode points at no directory."""
    path = multiprocess_dir()
    if path is not None and not os.path.isdir(path):
        raise ValueError(
            f"{ENV_VAR}={path} is not a directory: create it (empty) before the workers "
            f"start, or unset {ENV_VAR} for a single process"
        )


def scrape_registry(registry: CollectorRegistry) -> CollectorRegistry:
    """The registry one scrape should render.

    In multiprocess mode: a fresh registry that aggregates every process's files (this
    process's live metrics are in those files too, so ``registry`` is not read). Otherwise
    ``registry`` itself.
    """
    path = multiprocess_dir()
    if path is None:
        return registry
    check_multiprocess_dir()
    aggregate = CollectorRegistry()
    _multiprocess.MultiProcessCollector(aggregate, path=path)  # type: ignore[no-untyped-call]
    return aggregate


def mark_process_dead(pid: int, path: str | None = None) -> None:
    """Forget an exited worker's ``live*`` gauge values (its counters stay counted)."""
    path = path or multiprocess_dir()
    if path is None:
        raise RuntimeError(f"mark_process_dead needs a directory: set {ENV_VAR} or pass path")
    _multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
