"""Command lines: `acgs-deploy deploy|status|reload|restart|down` (the console script) and
`python -m acgs_deploy.backup backup|verify|restore`. Each only parses its arguments and calls
the function of `acgs_deploy.commands` that the subcommand names; the exit code is that
function's (0 done, 1 failed, 2 usage, 3 done in part).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from acgs_deploy import backends, commands, flags

__all__ = ["backup_main", "main"]

FEWER_RULES_HELP = "load fewer rules than Prometheus has now (refused without it)"
FORCE_HELP = "restart what runs even when a component is stopped or unhealthy"
KEY_FILE_HELP = (
    "file holding the key, alone or as its BACKUP_ENCRYPTION_KEY='...' line "
    "(default: monitoring.env's)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """`acgs-deploy`: deploy, status, reload, restart and down."""
    parser = _parser(
        "acgs-deploy",
        "Deploy and run the ACGS monitoring stack (Prometheus, Alertmanager, node_exporter, "
        "Grafana) with TLS and basic auth.",
        "Exit codes: 0 done, 1 failed, 2 usage, 3 compose rendered but not started, "
        "4 (status) a component is not healthy.",
    )
    subcommands = parser.add_subparsers(required=True, metavar="command")
    deploy = _subcommand(subcommands, "deploy", commands.deploy, "bring the stack up")
    deploy.add_argument("--target", choices=list(backends.BACKENDS), default="local")
    deploy.add_argument(
        "--topology",
        choices=list(flags.TOPOLOGIES),
        default=None,
        help="single or ha (default: the settings', else the last deploy's)",
    )
    # Neither flag: the demo mode of the last deploy of this state directory.
    demo = deploy.add_mutually_exclusive_group()
    demo.add_argument(
        "--demo",
        action="store_true",
        help="also run acgs-sim and the webhook receiver (kept on later deploys)",
    )
    demo.add_argument("--no-demo", action="store_true", help="stop acgs-sim and the webhook")
    deploy.add_argument(
        "--out", help="kubernetes: the directory to render into (default <state dir>/kubernetes)"
    )
    deploy.add_argument(
        "--namespace", help="kubernetes: the objects' namespace (default monitoring)"
    )
    # Neither flag: the `infra` key when set, else as the last deploy did.
    infra = deploy.add_mutually_exclusive_group()
    infra.add_argument(
        "--infra",
        action="store_true",
        help="with --demo, also run HAProxy, Redis, PostgreSQL and their exporters (default)",
    )
    infra.add_argument(
        "--no-infra",
        action="store_true",
        help="leave the demo infrastructure out (kept on later deploys); for your own",
    )
    status = _subcommand(subcommands, "status", commands.status, "each component's state")
    status.add_argument(
        "--format", dest="output_format", choices=list(flags.FORMATS), default="text"
    )
    reload = _subcommand(
        subcommands, "reload", commands.reload, "validate and hot-reload the configs"
    )
    for command in (deploy, reload):
        command.add_argument("--allow-fewer-rules", action="store_true", help=FEWER_RULES_HELP)
    restart = _subcommand(
        subcommands, "restart", commands.restart, "restart every component in turn (--rolling)"
    )
    restart.add_argument(
        "--rolling", action="store_true", help="one at a time, each healthy before the next"
    )
    restart.add_argument("--force", action="store_true", help=FORCE_HELP)
    _subcommand(subcommands, "down", commands.down, "stop what this state directory started")
    return _run(parser, argv)


def backup_main(argv: Sequence[str] | None = None) -> int:
    """`python -m acgs_deploy.backup`: backup, verify and restore."""
    parser = _parser(
        "python -m acgs_deploy.backup",
        "Encrypted backup, verification and restore of the ACGS monitoring stack.",
        "Exit codes: 0 done, 1 failed (a refused restore changed nothing), 2 usage, "
        "3 restored but series/sample counts differ from the manifest.",
    )
    subcommands = parser.add_subparsers(required=True, metavar="command")
    backup = _subcommand(subcommands, "backup", commands.backup, "take an encrypted backup")
    backup.add_argument("--out", type=Path, help="directory for the file (default <state>/backups)")
    backup.add_argument(
        "--keep-last", type=int, help="then keep only the newest N backups in --out"
    )
    backup.add_argument(
        "--keep-days", type=float, help="then delete backups older than M days (the newest stays)"
    )
    verify = _subcommand(subcommands, "verify", commands.verify_backup, "verify a backup file")
    restore = _subcommand(subcommands, "restore", commands.restore, "restore a backup file")
    for command in (backup, verify, restore):
        command.add_argument("--key-file", type=Path, help=KEY_FILE_HELP)
    for command in (verify, restore):
        command.add_argument("--backup-file", type=Path, required=True, help="the .acgsbak file")
    return _run(parser, argv)


def _parser(prog: str, description: str, epilog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    _stack_options(parser, default=None)
    return parser


def _stack_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """Before or after the subcommand; given after it, they win."""
    parser.add_argument(
        "--state-dir", type=Path, default=default, help="state directory (ACGS_STATE_DIR)"
    )
    parser.add_argument(
        "--stack-file", type=Path, default=default, help="YAML stack file (ACGS_STACK_FILE)"
    )


def _subcommand(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Callable[..., int],
    help_text: str,
) -> argparse.ArgumentParser:
    parser = subcommands.add_parser(name, help=help_text)
    # Suppressed defaults: the values given before the subcommand stay when none follow it.
    _stack_options(parser, default=argparse.SUPPRESS)
    parser.set_defaults(run=run)
    return parser


def _run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    arguments = vars(parser.parse_args(argv))
    run = arguments.pop("run")
    return int(run(**arguments))


if __name__ == "__main__":
    sys.exit(main())
