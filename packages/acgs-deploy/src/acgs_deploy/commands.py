"""The commands of the monitoring stack, one function each. The invoke tasks (tasks.py), the
`acgs-deploy` command and `python -m acgs_deploy.backup` call these and nothing else.

Each takes its flags as keywords (numbers may be strings, as invoke passes them: they are
checked before any work), the state directory and stack file (or already loaded `settings`)
and a console for its output (default: stdout). It prints what happened and returns the exit
code (`acgs_deploy.exitcodes`: 0 done, 1 failed, 2 usage, 3 done in part, 4 not healthy); an
error the user can act on is one red line on stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from acgs_deploy import backends, flags, mode
from acgs_deploy.alerts_report import print_fatigue, stack_alert_fatigue
from acgs_deploy.backends.base import DeployOptions
from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.backfill import print_report, run_backfill
from acgs_deploy.backup.retention import check_rules
from acgs_deploy.backup.run import run_backup, run_restore, run_verify
from acgs_deploy.binaries import ensure_binaries
from acgs_deploy.errors import UsageError
from acgs_deploy.exitcodes import (
    EXIT_COUNTS_DIFFER,
    EXIT_FAILED,
    EXIT_NOT_STARTED,
    EXIT_OK,
    EXIT_UNHEALTHY,
    command,
)
from acgs_deploy.health import healthy, print_health, stack_health
from acgs_deploy.perf.run import PerfPlan, run_overhead, run_perf
from acgs_deploy.restart import rolling_restart
from acgs_deploy.settings import StackSettings
from acgs_deploy.statetable import print_states, print_states_json
from acgs_deploy.tls import certificate_expiry

__all__ = [
    "alerts_report",
    "backfill",
    "backup",
    "deploy",
    "down",
    "health",
    "install_deps",
    "overhead",
    "perf",
    "reload",
    "restart",
    "restore",
    "status",
    "verify_backup",
]

PathArg = Path | str | None


def _settings(
    state_dir: PathArg,
    stack_file: PathArg,
    settings: StackSettings | None,
    topology: str | None = None,
) -> StackSettings:
    """The settings; the topology is `topology` (deploy's flag), else the stack file's or
    ACGS_TOPOLOGY, else the last deploy's, so status, health and reload see what runs."""
    if settings is not None:
        if topology is not None and topology != settings.topology:
            raise UsageError(
                f"--topology {topology} but the settings given say {settings.topology}: give one"
            )
        return settings
    loaded = StackSettings.load(state_dir, stack_file=stack_file, topology=topology)
    last = mode.last_topology(loaded)
    chosen = topology is not None or "topology" in loaded.model_fields_set
    if not chosen and last is not None and last != loaded.topology:
        loaded = StackSettings.load(state_dir, stack_file=stack_file, topology=last)
    return loaded


@command
def install_deps(*, quiet: bool = False) -> int:
    """Install the Debian binaries the stack and tests run (apt-get as root, else say how)."""
    ensure_binaries(quiet=quiet)
    return EXIT_OK


# --- the stack ---------------------------------------------------------------------------


@command
def deploy(
    *,
    target: str = "local",
    topology: str | None = None,
    demo: bool = False,
    no_demo: bool = False,
    infra: bool = False,
    no_infra: bool = False,
    allow_fewer_rules: bool = False,
    out: PathArg = None,
    namespace: str | None = None,
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Bring the stack up on `target` (or repair/reload it); 3 when compose was rendered and
    validated but not started. Neither --demo nor --no-demo: as the last deploy did; the
    demo's infrastructure likewise (--infra, --no-infra). `topology` (single or ha) beats the
    settings' and is kept for later commands. Fewer rules than loaded now only with
    `allow_fewer_rules`. An infrastructure part that cannot run is left out with a note, and
    the rest comes up (see `acgs_deploy.infra`). `out` and `namespace`: the kubernetes
    target's output directory and namespace."""
    make = backends.factory(target)
    if target != "kubernetes" and (out is not None or namespace is not None):
        raise UsageError("--out and --namespace apply to --target kubernetes only")
    options = DeployOptions(
        demo=flags.demo(demo, no_demo),
        infra=flags.infra(infra, no_infra),
        allow_fewer_rules=allow_fewer_rules,
        out=Path(out) if out is not None else None,
        namespace=namespace,
    )
    settings = _settings(state_dir, stack_file, settings, flags.topology(topology))
    if target == "compose" and settings.topology == "ha":
        # Its compose rendering is not written yet: refused rather than half rendered.
        raise UsageError("topology ha runs on the local target only for now: use --target local")
    console = console or Console()
    report = backends.deploy(make(settings, options, Console(stderr=True)))
    if report.components:
        print_states(console, report.components, title="ACGS monitoring stack")
        _where_to_look(console, settings)
    _print_notes(console, report.notes)
    return EXIT_OK if report.started else EXIT_NOT_STARTED


@command
def status(
    *,
    output_format: str = "text",
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Each component (every replica and peer) with its role, URL and state (healthy,
    unhealthy, stopped, not installed, left out), as a table or JSON; 4 when one that is
    installed and not left out is not healthy."""
    output_format = flags.output_format(output_format)
    settings = _settings(state_dir, stack_file, settings)
    console = console or Console()
    reports = [backend.status() for backend in backends.every(settings)]
    states = [state for report in reports for state in report.components]
    notes = [note for report in reports for note in report.notes]
    unwell = any(state.state not in ("healthy", "not installed", "left out") for state in states)
    if output_format == "json":
        print_states_json(console, states, settings.topology, notes)
    else:
        print_states(console, states, title=f"ACGS stack in {settings.state_dir}")
        _where_to_look(console, settings)
        _print_notes(console, notes)
    return EXIT_UNHEALTHY if unwell else EXIT_OK


@command
def reload(
    *,
    allow_fewer_rules: bool = False,
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Render and validate the configuration again, then hot-reload what changed; fewer rules
    than loaded now only with `allow_fewer_rules`."""
    settings = _settings(state_dir, stack_file, settings)
    console = console or Console()
    options = DeployOptions(allow_fewer_rules=allow_fewer_rules)
    report = LocalBackend(settings, options, Console(stderr=True)).reload()
    changed = ", ".join(sorted(report.config_changed)) or "nothing"
    console.print(f"configuration changed: {changed}", markup=False)
    print_states(console, report.components, title="reload")
    return EXIT_OK


@command
def restart(
    *,
    rolling: bool = False,
    force: bool = False,
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Restart every component in turn (`rolling`, the only restart there is), each healthy
    and settled before the next; refused, with nothing stopped, when a component is already
    stopped or unhealthy, unless `force`."""
    if not rolling:
        raise UsageError(
            "restart needs --rolling: one component at a time, each healthy before the next "
            "(to stop everything: invoke down)"
        )
    settings = _settings(state_dir, stack_file, settings)
    console = console or Console()
    report = rolling_restart(LocalBackend(settings), force=force, console=Console(stderr=True))
    print_states(console, report.components, title="rolling restart")
    _print_notes(console, report.notes)
    return EXIT_OK


@command
def down(
    *,
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Stop the processes this state directory started, and nothing else."""
    settings = _settings(state_dir, stack_file, settings)
    console = console or Console()
    reports = [backend.down() for backend in backends.every(settings)]
    stopped = [state.name for report in reports for state in report.components]
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}", markup=False)
    _print_notes(console, [note for report in reports for note in report.notes])
    return EXIT_OK


def _where_to_look(console: Console, settings: StackSettings) -> None:
    layout = settings.layout
    expiry = ""
    if layout.server_cert.is_file():
        until = certificate_expiry(layout.server_cert)
        expiry = f" (server certificate valid until {until:%Y-%m-%d})"
    console.print(
        f"credentials: {layout.env_file} (0600; user PROMETHEUS_USERNAME / "
        "PROMETHEUS_PASSWORD, Grafana admin GRAFANA_ADMIN_PASSWORD)\n"
        f"CA certificate to trust: {layout.ca_cert}{expiry}\n"
        f"logs: {layout.logs_dir}   stop: invoke down --state-dir {settings.state_dir}",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


def _print_notes(console: Console, notes: Sequence[str]) -> None:
    for note in notes:
        console.print(note, soft_wrap=True, markup=False, highlight=False)


# --- checks and measurements -------------------------------------------------------------


@command
def health(
    *,
    output_format: str = "text",
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Deployment validation and daily check; 1 when any check fails."""
    output_format = flags.output_format(output_format)
    settings = _settings(state_dir, stack_file, settings)
    checks = stack_health(settings)
    print_health(checks, console or Console(), output_format)
    return EXIT_OK if healthy(checks) else EXIT_FAILED


@command
def perf(
    *,
    users: int | str = 1000,
    duration: float | str = 600,
    report: PathArg = None,
    think: float | str = 1,
    detection_trials: int | str = 3,
    quiet_window: float | str = 60,
    dashboard_runs: int | str = 5,
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Measure every performance target on the live stack; 1 when one is missed."""
    plan = PerfPlan(
        users=flags.whole("--users", users),
        duration_s=flags.number("--duration", duration),
        think_s=flags.number("--think", think),
        dashboard_runs=flags.whole("--dashboard-runs", dashboard_runs),
        overhead_window_s=flags.number("--quiet-window", quiet_window),
        detection_trials=flags.whole("--detection-trials", detection_trials),
    )
    settings = _settings(state_dir, stack_file, settings)
    report_dir = Path(report) if report is not None else None
    passed = run_perf(settings, plan, report_dir, console or Console())
    return EXIT_OK if passed else EXIT_FAILED


@command
def backfill(
    *,
    hours: float | str,
    end: str | None = None,
    seed: int | str = 1,
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Write `hours` of realistic history for everything the running stack scrapes, ending
    where its data begins (or at `end`), and its recorded series; Prometheus keeps running."""
    span = flags.number("--hours", hours)
    until = flags.timestamp("--end", end) if end is not None else None
    chosen = flags.whole("--seed", seed)
    settings = _settings(state_dir, stack_file, settings)
    console = console or Console()
    print_report(run_backfill(settings, span, end=until, seed=chosen, console=console), console)
    return EXIT_OK


@command
def overhead(
    *,
    window: float | str = 60,
    output_format: str = "text",
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """CPU and memory of the monitoring processes against 1 % and 2 % of the machine."""
    window_s = flags.number("--window", window)
    output_format = flags.output_format(output_format)
    settings = _settings(state_dir, stack_file, settings)
    passed = run_overhead(settings, window_s, output_format, console or Console())
    return EXIT_OK if passed else EXIT_FAILED


@command
def alerts_report(
    *,
    hours: float | str = 24,
    output_format: str = "text",
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Alert fatigue over the last `hours`: firing counts, noisiest and flapping alerts."""
    window_s = flags.number("--hours", hours) * 3600
    output_format = flags.output_format(output_format)
    settings = _settings(state_dir, stack_file, settings)
    print_fatigue(stack_alert_fatigue(settings, window_s), console or Console(), output_format)
    return EXIT_OK


# --- backup and restore ------------------------------------------------------------------


@command
def backup(
    *,
    out: PathArg = None,
    key_file: PathArg = None,
    verify: PathArg = None,
    keep_last: int | str | None = None,
    keep_days: float | str | None = None,
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Encrypted backup of the running stack, then the retention rules; with `verify`, only
    verify that backup file (as `verify_backup`)."""
    if verify is not None:
        return verify_backup(
            backup_file=verify,
            key_file=key_file,
            state_dir=state_dir,
            stack_file=stack_file,
            settings=settings,
            console=console,
        )
    last = None if keep_last is None else flags.whole("--keep-last", keep_last)
    days = None if keep_days is None else flags.number("--keep-days", keep_days)
    check_rules(keep_last=last, keep_days=days)
    settings = _settings(state_dir, stack_file, settings)
    run_backup(
        settings,
        out_dir=Path(out) if out is not None else None,
        key_file=Path(key_file) if key_file is not None else None,
        keep_last=last,
        keep_days=days,
        console=console or Console(),
    )
    return EXIT_OK


@command
def verify_backup(
    *,
    backup_file: Path | str,
    key_file: PathArg = None,
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Verify a backup file (every chunk tag and file hash); changes nothing."""
    settings = _settings(state_dir, stack_file, settings)
    key = Path(key_file) if key_file is not None else None
    run_verify(settings, Path(backup_file), key, console or Console())
    return EXIT_OK


@command
def restore(
    *,
    backup_file: Path | str,
    key_file: PathArg = None,
    state_dir: PathArg = None,
    stack_file: PathArg = None,
    settings: StackSettings | None = None,
    console: Console | None = None,
) -> int:
    """Verify a backup fully, restore it into this stack (running, stopped, or an empty state
    directory on a new machine) and check the counts; 3 when the restored counts differ from
    the backup's manifest."""
    settings = _settings(state_dir, stack_file, settings)
    key = Path(key_file) if key_file is not None else None
    matched = run_restore(settings, Path(backup_file), key, console or Console())
    return EXIT_OK if matched else EXIT_COUNTS_DIFFER
