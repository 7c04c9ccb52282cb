"""invoke tasks: thin wrappers that parse flags and call package functions
(`acgs_deploy.commands` for the stack; their exit code is the task's).

Run `invoke --list` to see them, `invoke --help TASK` for a task's flags.
"""

from __future__ import annotations

import sys

from invoke.context import Context
from invoke.tasks import task

from acgs_deploy import commands

STATE_DIR_HELP = "state directory (default .acgs/ here, or ACGS_STATE_DIR)"
STACK_FILE_HELP = "YAML stack file with settings (or ACGS_STACK_FILE, or ./acgs-stack.yml)"
FEWER_RULES_HELP = "load fewer rules than Prometheus has now (refused without it)"
KEY_FILE_HELP = (
    "file holding the key, alone or as its BACKUP_ENCRYPTION_KEY='...' line "
    "(default: monitoring.env's)"
)


def done(code: int) -> None:
    """End invoke with the command's exit code when it failed (later tasks then do not run)."""
    if code:
        sys.exit(code)


@task(help={"quiet": "hide apt-get's output"})
def install_deps(c: Context, quiet: bool = False) -> None:
    """Install the Debian binaries the stack and tests run (apt-get as root, else print how)."""
    done(commands.install_deps(quiet=quiet))


@task(
    pre=[install_deps],
    help={"sessions": "comma-separated nox sessions (default: all of CI, see the task's help)"},
)
def test(c: Context, sessions: str = "") -> None:
    """The full test suite, as CI runs it: installs what it needs, then nox's default sessions
    (`nox`, the fast ones), then the long scenario suites (`nox -t long`)."""
    if sessions:
        c.run(" ".join(["nox", "-s", *sessions.split(",")]), pty=False)
        return
    c.run("nox", pty=False)  # a failure ends the task here: no long suites on a red build
    c.run("nox -t long", pty=False)


@task(
    help={
        "target": "local (background processes, the default), compose or kubernetes (render only)",
        "topology": "single or ha (replicas, Alertmanager cluster, long-term store; kept "
        "for later commands; default: the stack file's, else the last deploy's, else single)",
        "demo": "also run acgs-sim and the webhook receiver that records alerts",
        "no_demo": "stop the demo parts (default: as the last deploy of this state dir)",
        "infra": "with --demo, also run HAProxy, Redis, PostgreSQL and their exporters (default)",
        "no_infra": "leave the demo infrastructure out (kept on later deploys)",
        "allow_fewer_rules": FEWER_RULES_HELP,
        "out": "kubernetes: the directory to render into (default <state dir>/kubernetes)",
        "namespace": "kubernetes: the namespace of the rendered objects (default monitoring)",
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def deploy(
    c: Context,
    target: str = "local",
    topology: str | None = None,
    demo: bool = False,
    no_demo: bool = False,
    infra: bool = False,
    no_infra: bool = False,
    allow_fewer_rules: bool = False,
    out: str | None = None,
    namespace: str | None = None,
    state_dir: str | None = None,
    stack_file: str | None = None,
) -> None:
    """Bring the stack up (or repair/reload it): validated, TLS, basic auth; safe to rerun."""
    done(
        commands.deploy(
            target=target,
            topology=topology,
            demo=demo,
            no_demo=no_demo,
            infra=infra,
            no_infra=no_infra,
            allow_fewer_rules=allow_fewer_rules,
            out=out,
            namespace=namespace,
            state_dir=state_dir,
            stack_file=stack_file,
        )
    )


@task(
    help={
        "format": "text (a table, the default) or json",
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def status(
    c: Context, format: str = "text", state_dir: str | None = None, stack_file: str | None = None
) -> None:
    """Each component (every replica and peer): role, URL and state; exits 4 when one is not
    healthy."""
    done(commands.status(output_format=format, state_dir=state_dir, stack_file=stack_file))


@task(
    help={
        "allow_fewer_rules": FEWER_RULES_HELP,
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def reload(
    c: Context,
    allow_fewer_rules: bool = False,
    state_dir: str | None = None,
    stack_file: str | None = None,
) -> None:
    """Re-render and validate the configs, then hot-reload; a bad config is refused."""
    done(
        commands.reload(
            allow_fewer_rules=allow_fewer_rules, state_dir=state_dir, stack_file=stack_file
        )
    )


@task(
    help={
        "rolling": "one component at a time, each healthy and settled before the next",
        "force": "restart what runs even when a component is stopped or unhealthy",
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def restart(
    c: Context,
    rolling: bool = False,
    force: bool = False,
    state_dir: str | None = None,
    stack_file: str | None = None,
) -> None:
    """Restart every component in turn (--rolling); refused when one is already unwell."""
    done(commands.restart(rolling=rolling, force=force, state_dir=state_dir, stack_file=stack_file))


@task(help={"state_dir": STATE_DIR_HELP, "stack_file": STACK_FILE_HELP})
def down(c: Context, state_dir: str | None = None, stack_file: str | None = None) -> None:
    """Stop the processes this state directory started, and nothing else."""
    done(commands.down(state_dir=state_dir, stack_file=stack_file))


@task(pre=[install_deps])
def lint_rules(c: Context) -> None:
    """Lint the alert rules as CI does: promtool check and test, then acgs-rules."""
    c.run("nox -s lint_rules", pty=False)


@task
def lint_dashboards(c: Context) -> None:
    """Build and lint the Grafana dashboards as CI does (nox -s lint_dashboards)."""
    c.run("nox -s lint_dashboards", pty=False)


@task(help={"out": "output directory (default: build/grafana)"})
def build_dashboards(c: Context, out: str = "build/grafana") -> None:
    """Write the dashboard JSON and Grafana provisioning files into OUT."""
    # Imported here: the Grafana SDK takes seconds to import, which every other task (a
    # redeploy among them) would pay.
    from acgs_dashboards import cli as dashboards_cli

    done(dashboards_cli.main(["build", "--out", out]))


@task(
    help={
        "format": "text (a table, the default) or json",
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def health(
    c: Context, format: str = "text", state_dir: str | None = None, stack_file: str | None = None
) -> None:
    """Deployment validation and daily check; exits 1 when anything is unhealthy."""
    done(commands.health(output_format=format, state_dir=state_dir, stack_file=stack_file))


@task(
    help={
        "users": "concurrent virtual users (default 1000, the guide's)",
        "duration": "seconds of load (default 600, the guide's)",
        "report": "directory for report.json and the pictures (default reports/perf-<time>)",
        "think": "mean seconds a virtual user waits between requests (default 1)",
        "detection_trials": "fault injections to time (default 3; 0 skips)",
        "quiet_window": "seconds of the quiet window for overhead and scrape latency (default 60)",
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def perf(
    c: Context,
    users: str = "1000",
    duration: str = "600",
    report: str | None = None,
    think: str = "1",
    detection_trials: str = "3",
    quiet_window: str = "60",
    state_dir: str | None = None,
    stack_file: str | None = None,
) -> None:
    """Measure every performance target on the live stack; exits 1 when one is missed."""
    # Numbers arrive as strings: the command checks them and names the flag when one is bad.
    done(
        commands.perf(
            users=users,
            duration=duration,
            report=report,
            think=think,
            detection_trials=detection_trials,
            quiet_window=quiet_window,
            state_dir=state_dir,
            stack_file=stack_file,
        )
    )


@task(
    help={
        "hours": "hours of history to write (e.g. 24; at most the retention)",
        "end": "where the history ends, RFC 3339 or Unix seconds (default: where the data "
        "begins; never later)",
        "seed": "seed of the simulated traffic and incidents (default 1)",
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def backfill(
    c: Context,
    hours: str,
    end: str | None = None,
    seed: str = "1",
    state_dir: str | None = None,
    stack_file: str | None = None,
) -> None:
    """Realistic history for everything the running stack scrapes, and its recorded series."""
    done(
        commands.backfill(
            hours=hours, end=end, seed=seed, state_dir=state_dir, stack_file=stack_file
        )
    )


@task(
    help={
        "window": "seconds to sample (default 60)",
        "format": "text or json",
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def overhead(
    c: Context,
    window: str = "60",
    format: str = "text",
    state_dir: str | None = None,
    stack_file: str | None = None,
) -> None:
    """CPU and memory of the monitoring processes against 1 % and 2 % of the machine."""
    done(
        commands.overhead(
            window=window, output_format=format, state_dir=state_dir, stack_file=stack_file
        )
    )


@task(
    name="alerts-report",
    help={
        "hours": "how far back to look (default 24)",
        "format": "text or json",
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    },
)
def alerts_report(
    c: Context,
    hours: str = "24",
    format: str = "text",
    state_dir: str | None = None,
    stack_file: str | None = None,
) -> None:
    """Alert fatigue: firing counts per alert, the noisiest and flapping ones, a suggestion each."""
    done(
        commands.alerts_report(
            hours=hours, output_format=format, state_dir=state_dir, stack_file=stack_file
        )
    )


@task(
    help={
        "out": "directory for the backup file (default <state>/backups)",
        "key_file": KEY_FILE_HELP,
        "verify": "only verify this backup file (every tag and hash); changes nothing",
        "keep_last": "after the backup, keep only the newest N backups in the directory",
        "keep_days": "after the backup, delete backups older than M days (the newest stays)",
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def backup(
    c: Context,
    out: str | None = None,
    key_file: str | None = None,
    verify: str | None = None,
    keep_last: str | None = None,
    keep_days: str | None = None,
    state_dir: str | None = None,
    stack_file: str | None = None,
) -> None:
    """Encrypted backup of the running stack (TSDB, silences, configs, certs), or --verify."""
    done(
        commands.backup(
            out=out,
            key_file=key_file,
            verify=verify,
            keep_last=keep_last,
            keep_days=keep_days,
            state_dir=state_dir,
            stack_file=stack_file,
        )
    )


@task(
    help={
        "backup_file": "the .acgsbak file to restore",
        "key_file": KEY_FILE_HELP,
        "state_dir": STATE_DIR_HELP,
        "stack_file": STACK_FILE_HELP,
    }
)
def restore(
    c: Context,
    backup_file: str,
    key_file: str | None = None,
    state_dir: str | None = None,
    stack_file: str | None = None,
) -> None:
    """Verify a backup fully, restore it (running or stopped stack, or a new state dir), check."""
    done(
        commands.restore(
            backup_file=backup_file, key_file=key_file, state_dir=state_dir, stack_file=stack_file
        )
    )
