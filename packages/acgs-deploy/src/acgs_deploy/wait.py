"""Waiting until started components answer their health probe, with a progress display."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from acgs_deploy.components import Component
from acgs_deploy.process import ProcessManager

__all__ = ["wait_healthy"]


def wait_healthy(
    wanted: Sequence[Component],
    manager: ProcessManager,
    timeout_s: float,
    console: Console | None = None,
) -> dict[str, str]:
    """Poll until every component is healthy; returns {name: why} for those that are not:
    "exited" (its process is gone) or "not healthy after <timeout>s". No display without
    `console`."""
    pending = {c.name: c for c in wanted}
    failed: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=console is None) as progress:
        tasks = {name: progress.add_task(f"{name}: starting", total=1) for name in pending}
        while pending and time.monotonic() < deadline:
            for name, component in list(pending.items()):
                if component.probe():
                    progress.update(tasks[name], completed=1, description=f"{name}: healthy")
                    del pending[name]
                elif manager.running(name) is None:
                    progress.update(tasks[name], completed=1, description=f"{name}: exited")
                    failed[name] = "exited"
                    del pending[name]
            if pending:
                time.sleep(0.1)
    for name in pending:
        failed[name] = f"not healthy after {timeout_s:.0f}s"
    return failed
