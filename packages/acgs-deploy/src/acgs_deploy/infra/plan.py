"""Which infrastructure parts a deploy runs: each part is checked before anything starts, and
one that cannot run is left out with one line naming it and what to do (see
`acgs_deploy.infra`). The checks, in order:

1. a job whose ``*_exporter_target`` is set scrapes the user's exporter: ours is left out;
2. its binary: missing ones are installed as root (apt-get); when that cannot be done (not
   root, offline) the part is left out;
3. its ports: taken by another program (or an address this machine lacks), it is left out;
4. PostgreSQL's cluster: made on the first deploy (`prepare`, once the secrets exist); when
   initdb fails, PostgreSQL is left out.
A part left out leaves out the parts that need it.
"""

from __future__ import annotations

import os

from acgs_deploy import binaries, preflight
from acgs_deploy.infra import JOBS, PARTS, Plan, postgres
from acgs_deploy.infra.parts import BINARIES, infra_components
from acgs_deploy.process import ProcessManager
from acgs_deploy.secrets import Secrets
from acgs_deploy.settings import StackSettings

__all__ = ["plan", "prepare"]

# The part a user's own exporter replaces (and everything needing it).
_REPLACED = {"haproxy": "haproxy", "redis": "redis_exporter", "postgres": "postgres_exporter"}


def plan(settings: StackSettings, manager: ProcessManager) -> Plan:
    """The parts that can run here and the ones left out, with why."""
    decided = Plan(run=list(PARTS))
    for job, (_, _, key) in JOBS.items():
        if getattr(settings, key):
            part = _REPLACED[job]
            decided.leave_out(
                part,
                f"{part}: {key} is set, so Prometheus scrapes your exporter there; unset it to "
                "run the demo's",
            )
    _binaries(decided)
    listeners = [
        listener
        for component in infra_components(settings, None, decided.run)
        for listener in component.listeners(manager.running(component.name))
    ]
    for part, line in preflight.listener_problems(listeners):
        if part in decided.run:
            decided.leave_out(part, line)
    return decided


def _binaries(decided: Plan) -> None:
    """Install what is missing when we can; leave out the parts whose binary stays missing."""
    wanted = {BINARIES[part] for part in decided.run}
    absent = binaries.missing([b for b in binaries.BINARIES if b.name in wanted])
    if not absent:
        return
    why = "not root"
    if os.geteuid() == 0:
        try:
            binaries.ensure_binaries(absent, quiet=True)
        except binaries.MissingBinaries as error:
            why = str(error).splitlines()[0]
    still = {b.name: b.package for b in binaries.missing(absent)}
    for part in list(decided.run):
        binary = BINARIES[part]
        if binary in still and part in decided.run:
            decided.leave_out(
                part,
                f"{part}: {binary} is not installed and could not be installed here ({why}): "
                f"install the {still[binary]} package (`sudo invoke install-deps`), or deploy "
                "with --no-infra",
            )


def prepare(settings: StackSettings, secrets: Secrets, decided: Plan) -> None:
    """Redis' directory; PostgreSQL's cluster on the first deploy (left out when that fails)."""
    if "redis" in decided.run:
        settings.layout.redis_data.mkdir(parents=True, exist_ok=True, mode=0o700)
    if "postgres" not in decided.run:
        return
    try:
        postgres.ensure_cluster(settings, secrets)
    except postgres.PostgresError as error:
        hint = (
            "" if "--no-infra" in str(error) else ": fix that and deploy again, or use --no-infra"
        )
        decided.leave_out("postgres", f"{error}{hint}")
