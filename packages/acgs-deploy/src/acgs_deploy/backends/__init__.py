"""The deploy targets (one module each, behind `base.Backend`) and the one way to deploy.

`BACKENDS` is the list of targets by their ``--target`` name; `deploy` renders, validates and
applies under the state directory's lock; `every` gives each target for status and down.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from acgs_deploy.backends.base import Backend, DeployOptions, Report, validate_or_discard
from acgs_deploy.backends.compose import ComposeBackend
from acgs_deploy.backends.kubernetes import KubernetesBackend
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.errors import UsageError, writing
from acgs_deploy.lock import exclusive
from acgs_deploy.settings import StackSettings

__all__ = ["BACKENDS", "BackendFactory", "deploy", "every", "factory"]

BackendFactory = Callable[[StackSettings, DeployOptions | None, Console | None], Backend]

BACKENDS: dict[str, BackendFactory] = {
    "local": LocalBackend,
    "compose": ComposeBackend,
    "kubernetes": KubernetesBackend,
}


def factory(target: str) -> BackendFactory:
    """How to make the backend of `target`; an unknown target is a UsageError."""
    if target not in BACKENDS:
        *others, last = BACKENDS
        raise UsageError(f"unknown target {target!r}: use {', '.join(others)} or {last}")
    return BACKENDS[target]


def every(settings: StackSettings) -> list[Backend]:
    """Every target of this state directory, for status and down."""
    return [make(settings, None, None) for make in BACKENDS.values()]


def deploy(backend: Backend) -> Report:
    """Render, validate and apply under the state directory's lock. A failed check discards
    what was rendered: whatever runs keeps its configuration."""
    with exclusive(backend.settings), writing(backend.settings.state_dir):
        rendered = backend.render()
        validate_or_discard(backend, rendered)
        return backend.apply(rendered)
