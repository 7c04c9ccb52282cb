"""``acgs-deploy``: deploy, status, reload and down for the monitoring stack.

The invoke tasks (``invoke deploy`` ...) call :func:`run`; this module is also a command of its
own. Exit codes: 0 done, 1 failed (the message says why and what to do), 2 usage error,
3 compose target rendered and validated but not started (no Docker engine reachable).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from acgs_deploy import backends
from acgs_deploy.backends.base import DeployOptions
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.binaries import MissingBinaries
from acgs_deploy.configstore import ConfigError
from acgs_deploy.errors import DeployError, UsageError
from acgs_deploy.render import RenderError
from acgs_deploy.secrets import SecretsError
from acgs_deploy.settings import SettingsError, StackSettings
from acgs_deploy.statetable import print_states
from acgs_deploy.tls import TLSError, certificate_expiry

__all__ = ["main", "run"]

EXIT_FAILED = 1
EXIT_NOT_STARTED = 3
USER_ERRORS = (
    DeployError,
    SettingsError,
    SecretsError,
    TLSError,
    ConfigError,
    RenderError,
    MissingBinaries,
)


def run(
    command: str,
    *,
    state_dir: Path | str | None = None,
    stack_file: Path | str | None = None,
    target: str = "local",
    demo: bool | None = None,
    console: Console | None = None,
) -> int:
    """Run one command and print its outcome; returns the exit code."""
    console = console or Console()
    errors = Console(stderr=True)
    try:
        settings = StackSettings.load(state_dir, stack_file=stack_file)
        if command == "deploy":
            try:
                make = backends.factory(target)
            except UsageError as error:
                errors.print(f"[red]{escape(str(error))}[/red]")
                return 2
            report = backends.deploy(make(settings, DeployOptions(demo=demo), errors))
            if report.components:
                print_states(console, report.components, title="ACGS monitoring stack")
                _where_to_look(console, settings)
            _notes(console, report.notes)
            return 0 if report.started else EXIT_NOT_STARTED
        if command == "status":
            reports = [backend.status() for backend in backends.every(settings)]
            states = [state for report in reports for state in report.components]
            print_states(console, states, title=f"ACGS stack in {settings.state_dir}")
            _where_to_look(console, settings)
            _notes(console, [note for report in reports for note in report.notes])
        elif command == "reload":
            report = LocalBackend(settings, console=errors).reload()
            changed = ", ".join(sorted(report.config_changed)) or "nothing"
            console.print(f"configuration changed: {changed}", markup=False)
            print_states(console, report.components, title="reload")
        elif command == "down":
            reports = [backend.down() for backend in backends.every(settings)]
            stopped = [state.name for report in reports for state in report.components]
            console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}", markup=False)
            _notes(console, [note for report in reports for note in report.notes])
        else:
            errors.print(f"[red]unknown command {escape(repr(command))}[/red]")
            return 2
    except USER_ERRORS as error:
        errors.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        return EXIT_FAILED
    return 0


def _where_to_look(console: Console, settings: StackSettings) -> None:
    layout = settings.layout
    console.print(
        f"credentials: {layout.env_file} (0600; user PROMETHEUS_USERNAME / "
        "PROMETHEUS_PASSWORD, Grafana admin GRAFANA_ADMIN_PASSWORD)\n"
        f"CA certificate to trust: {layout.ca_cert}{_expiry(layout.server_cert)}\n"
        f"logs: {layout.logs_dir}   stop: invoke down --state-dir {settings.state_dir}",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


def _notes(console: Console, notes: Sequence[str]) -> None:
    for note in notes:
        console.print(note, soft_wrap=True, markup=False, highlight=False)


def _expiry(server_cert: Path) -> str:
    if not server_cert.is_file():
        return ""
    return f" (server certificate valid until {certificate_expiry(server_cert):%Y-%m-%d})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="acgs-deploy",
        description="Deploy and run the ACGS monitoring stack (Prometheus, Alertmanager, "
        "node_exporter, Grafana) with TLS and basic auth.",
        epilog="Exit codes: 0 done, 1 failed, 2 usage, 3 compose rendered but not started.",
    )
    parser.add_argument(
        "command", choices=["deploy", "status", "reload", "down"], help="what to do"
    )
    parser.add_argument("--state-dir", type=Path, help="state directory (ACGS_STATE_DIR)")
    parser.add_argument("--stack-file", type=Path, help="YAML stack file (ACGS_STACK_FILE)")
    parser.add_argument("--target", choices=["local", "compose"], default="local")
    # Neither flag: the demo mode of the last deploy of this state directory.
    demo = parser.add_mutually_exclusive_group()
    demo.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help="also run acgs-sim and the webhook receiver (kept on later deploys)",
    )
    demo.add_argument(
        "--no-demo", dest="demo", action="store_false", help="stop acgs-sim and the webhook"
    )
    args = parser.parse_args(argv)
    return run(
        args.command,
        state_dir=args.state_dir,
        stack_file=args.stack_file,
        target=args.target,
        demo=args.demo,
    )


if __name__ == "__main__":
    sys.exit(main())
