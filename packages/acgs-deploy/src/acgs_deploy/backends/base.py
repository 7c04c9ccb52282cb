"""The interface every deploy target implements, and what it returns.

A backend renders the stack's files into a staging area (after its preflight checks), validates
them, and applies them: swaps them in and starts or reloads what runs (local processes), writes
them where they are used (compose, and render-only targets), or both. `status` says what runs
and `down` stops it; a target that cannot see or stop its components says how in `notes`.

A new target (e.g. kubernetes, render-only) is a new module with a class that takes
``(settings, options, console)``, registered in `acgs_deploy.backends.BACKENDS`; a new deploy
option is a field of `DeployOptions` that the backends read (the topology is a setting:
StackSettings.topology, planned by acgs_deploy.instances).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from acgs_deploy.secrets import RECEIVER_KEYS, Secrets
from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import CertificateInfo, ensure_certificates

__all__ = [
    "Backend",
    "ComponentState",
    "DeployOptions",
    "Rendered",
    "Report",
    "secrets_and_certificates",
    "validate_or_discard",
]


@dataclass(frozen=True)
class DeployOptions:
    """What a deploy asks for beyond the settings."""

    # Also run the demo parts (acgs-sim, the webhook receiver); None: as the last deploy did.
    demo: bool | None = None
    # Load fewer rules than the live configuration holds (``--allow-fewer-rules``).
    allow_fewer_rules: bool = False
    # Render-only targets (kubernetes): where to write (``--out``), and the namespace.
    out: Path | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class Rendered:
    """What `render` wrote: everything under `staging`, the configuration to check in
    `config`. `apply` consumes it; `discard` throws it away (a check failed)."""

    staging: Path
    config: Path
    certs_changed: bool  # the certificates were made or renewed by this render

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


@dataclass
class ComponentState:
    """One component as a command reports it: healthy, unhealthy, stopped, not installed ...
    and what was done to it (`action`), with a hint when the user has something to do."""

    name: str
    url: str
    state: str
    pid: int | None = None
    action: str = ""
    hint: str = ""
    role: str = ""  # its part in the topology ("prometheus replica 1", "alertmanager peer 2")


@dataclass
class Report:
    """What a backend found (status), did (apply, reload) or stopped (down)."""

    components: list[ComponentState] = field(default_factory=list)
    # Lines for the user, printed as they are after the components.
    notes: list[str] = field(default_factory=list)
    config_changed: set[str] = field(default_factory=set)
    # False: rendered and validated, but nothing was started (exit code 3).
    started: bool = True

    @property
    def actions(self) -> dict[str, str]:
        return {c.name: c.action for c in self.components}


class Backend(Protocol):
    """A deploy target; construct it as ``Backend(settings, options, console)``."""

    settings: StackSettings

    def render(self) -> Rendered:
        """Run the preflight checks, then write everything the target needs into a staging
        area; nothing in use is touched."""

    def validate(self, rendered: Rendered) -> None:
        """Check what `render` wrote (promtool, amtool, ...); raise naming the file if bad."""

    def apply(self, rendered: Rendered) -> Report:
        """Put the validated files in use and bring the target to them."""

    def status(self) -> Report:
        """Each component's state, or notes on how to see it."""

    def down(self) -> Report:
        """Stop what this state directory runs on the target; the stopped ones are reported."""


def validate_or_discard(backend: Backend, rendered: Rendered) -> None:
    """`backend.validate(rendered)`; when it fails, what was rendered is thrown away."""
    try:
        backend.validate(rendered)
    except BaseException:
        rendered.discard()
        raise


def secrets_and_certificates(settings: StackSettings) -> tuple[Secrets, CertificateInfo]:
    """monitoring.env and the TLS certificates, made on the first render and kept after (receiver
    settings given since are added; certificates are renewed 30 days before they expire)."""
    receivers = {name: getattr(settings, name) for name in RECEIVER_KEYS}
    secrets, _ = Secrets.ensure(settings.state_dir, receivers)
    return secrets, ensure_certificates(settings)
