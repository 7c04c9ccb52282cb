"""`invoke health`: the guide's deployment validation and daily check in one.

Each check returns a `HealthCheck` (name, status ok/warn/fail, a one-line detail, and data
for machines). Components healthy and ready through TLS and auth; targets up against the
jobs and addresses the settings say; rules loaded and evaluating without errors; Alertmanager
reachable with its receivers (API v2); firing alerts summarised; days until the TLS
certificates expire; TSDB disk use against retention; age of the last backup.
`invoke health` exits 1 when any check fails (warnings alone do not fail).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.table import Table

from acgs_deploy.backends.local import LocalBackend
from acgs_deploy.client import (
    APIError,
    alertmanager_status,
    alerts,
    api_get,
    port_url,
    query,
    receivers,
    rule_groups,
    stack_client,
    url_endpoint,
)
from acgs_deploy.instances import Instance, alertmanager_instances, prometheus_instances
from acgs_deploy.settings import StackSettings
from acgs_promql.durations import parse_duration

Status = Literal["ok", "warn", "fail"]

CERT_FAIL_DAYS = 7
CERT_WARN_DAYS = 30
BACKUP_WARN_HOURS = 26.0
BACKUP_FAIL_HOURS = 72.0


@dataclass(frozen=True)
class HealthCheck:
    name: str
    status: Status
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


def _guard(name: str, check: Callable[[], HealthCheck]) -> HealthCheck:
    """A check that cannot reach its server fails with the reason, not a traceback."""
    try:
        return check()
    except (APIError, httpx.HTTPError, OSError, ValueError) as error:
        return HealthCheck(name, "fail", f"{type(error).__name__}: {error}")


def check_ready(name: str, client: httpx.Client) -> HealthCheck:
    """`/-/healthy` and `/-/ready` answer 200 through TLS and basic auth."""
    codes = {path: client.get(path).status_code for path in ("/-/healthy", "/-/ready")}
    bad = {path: code for path, code in codes.items() if code != 200}
    if bad:
        return HealthCheck(f"{name} ready", "fail", f"answered {bad}", {"codes": codes})
    return HealthCheck(f"{name} ready", "ok", "healthy and ready (TLS, auth)", {"codes": codes})


def expected_targets(settings: StackSettings) -> dict[str, set[str]]:
    """The jobs and target addresses (host:port) the settings say the local stack scrapes."""
    from acgs_deploy.render import local_topology

    topology = local_topology(settings, demo=False)
    expected = {f"acgs-{service}": {target} for service, target in topology.acgs_targets}
    expected["prometheus"] = set(topology.prometheus)
    expected["alertmanager"] = set(topology.alertmanager)
    expected["node_exporter"] = {topology.node_exporter}
    if topology.victoriametrics:
        expected["victoriametrics"] = {topology.victoriametrics}
    for job, target in topology.optional_exporters:
        expected[job] = {target}
    return expected


def _address(target: Mapping[str, Any]) -> str:
    """host:port Prometheus scrapes (the scrape URL's, as relabelling may change `instance`)."""
    return urlsplit(str(target.get("scrapeUrl", ""))).netloc or str(target["labels"]["instance"])


def check_targets(prometheus: httpx.Client, expected: Mapping[str, set[str]]) -> HealthCheck:
    """Every expected job (from the settings, not the loaded configuration: a stale or foreign
    configuration must not pass) is scraped at the expected addresses only, all targets up."""
    active = api_get(prometheus, "/api/v1/targets", {"state": "active"})["activeTargets"]
    health: dict[str, list[str]] = {}
    addresses: dict[str, set[str]] = {}
    errors: dict[str, str] = {}
    for target in active:
        job = target["labels"].get("job", "")
        health.setdefault(job, []).append(target["health"])
        addresses.setdefault(job, set()).add(_address(target))
        if target["health"] == "down":
            errors.setdefault(job, target.get("lastError", ""))
    missing = sorted(job for job in expected if job not in health)
    unexpected = {
        job: sorted(found - expected.get(job, set()))
        for job, found in sorted(addresses.items())
        if found - expected.get(job, set())
    }
    # "unknown" is a target not scraped yet (just after a start or reload): not a failure.
    pending = sorted(job for job, states in health.items() if "unknown" in states)
    up = sum(states.count("up") for states in health.values())
    total = sum(len(states) for states in health.values())
    data = {"expected_jobs": sorted(expected), "missing_jobs": missing, "down_jobs": sorted(errors),
            "unexpected_targets": unexpected, "not_scraped_yet": pending, "targets_up": up,
            "targets_total": total}  # fmt: skip
    if missing or errors or unexpected:
        problems = [f"no targets for {', '.join(missing)}"] if missing else []
        problems += [
            f"{job} scrapes {', '.join(found)}, the settings say {', '.join(sorted(expected[job]))}"
            if job in expected
            else f"{job} scrapes {', '.join(found)}, a job the settings do not have"
            for job, found in unexpected.items()
        ]
        problems += [f"down: {job} ({error})" for job, error in sorted(errors.items())]
        if missing or unexpected:
            problems.append("the loaded configuration does not match the settings: invoke deploy")
        return HealthCheck("targets", "fail", f"{up}/{total} up; " + "; ".join(problems), data)
    if pending:
        detail = f"{up}/{total} up; not scraped yet: {', '.join(pending)}"
        return HealthCheck("targets", "warn", detail, data)
    return HealthCheck("targets", "ok", f"{up}/{total} up in {len(expected)} jobs", data)


def check_rules(prometheus: httpx.Client) -> HealthCheck:
    """Rule groups loaded, and every rule's last evaluation without error."""
    groups = rule_groups(prometheus)
    rules = [rule for group in groups for rule in group["rules"]]
    broken = [f"{rule['name']}: {rule.get('lastError', '')}" for rule in rules
              if rule.get("health") not in ("ok", "unknown")]  # fmt: skip
    data = {"groups": len(groups), "rules": len(rules), "errors": broken}
    if not rules:
        return HealthCheck("rules", "fail", "no rules loaded", data)
    if broken:
        return HealthCheck("rules", "fail", f"{len(broken)} rule(s) failing: {broken[0]}", data)
    return HealthCheck("rules", "ok", f"{len(rules)} rules in {len(groups)} groups evaluate", data)


def check_alertmanager(alertmanager: httpx.Client) -> HealthCheck:
    """Alertmanager's API v2 answers, with its receivers and cluster state."""
    body = alertmanager_status(alertmanager)
    names = receivers(alertmanager)
    data = {"version": body.get("versionInfo", {}).get("version"), "receivers": names,
            "cluster": body.get("cluster", {}).get("status")}  # fmt: skip
    if not names:
        return HealthCheck("alertmanager", "fail", "no receivers configured", data)
    return HealthCheck("alertmanager", "ok", f"receivers: {', '.join(names)}", data)


def check_firing(alertmanager: httpx.Client) -> HealthCheck:
    """The alerts firing now, by severity; a critical one is a warning for the daily check."""
    firing = alerts(alertmanager, active=True, silenced=False, inhibited=False)
    severities = Counter(a["labels"].get("severity", "none") for a in firing)
    names = sorted({a["labels"].get("alertname", "") for a in firing})
    data = {"firing": len(firing), "by_severity": dict(severities), "alertnames": names}
    if not firing:
        return HealthCheck("firing alerts", "ok", "none", data)
    summary = ", ".join(f"{n} {s}" for s, n in severities.most_common())
    status: Status = "warn" if severities.get("critical") else "ok"
    return HealthCheck("firing alerts", status, f"{summary}: {', '.join(names)}", data)


def check_certificates(paths: Sequence[Path], now: dt.datetime | None = None) -> HealthCheck:
    """Days until the soonest of the stack's certificates expires."""
    from acgs_deploy.tls import certificate_expiry

    now = now or dt.datetime.now(dt.UTC)
    days = {str(path): (certificate_expiry(path) - now).total_seconds() / 86400 for path in paths}
    soonest_path, soonest = min(days.items(), key=lambda item: item[1])
    data = {"days_left": {p: round(d, 1) for p, d in days.items()}}
    detail = f"{soonest:.0f} days left ({Path(soonest_path).name})"
    if soonest < CERT_FAIL_DAYS:
        return HealthCheck("certificates", "fail", detail + ": renew now", data)
    if soonest < CERT_WARN_DAYS:
        return HealthCheck("certificates", "warn", detail + ": renew soon", data)
    return HealthCheck("certificates", "ok", detail, data)


def _directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def check_tsdb(prometheus: httpx.Client, data_dir: Path) -> HealthCheck:
    """TSDB size now, projected to the full retention at the current rate, against free disk."""
    flags = api_get(prometheus, "/api/v1/status/flags")
    # "0s" means unset: Prometheus then keeps 15 days (unless a size limit is set).
    retention_s = parse_duration(flags.get("storage.tsdb.retention.time", "0s")) or 15 * 86400.0
    used = _directory_bytes(data_dir)
    free = shutil.disk_usage(data_dir).free
    lowest = query(prometheus, "prometheus_tsdb_lowest_timestamp_seconds")
    covered_s = time.time() - float(lowest[0]["value"][1]) if lowest else 0.0
    # Young stores grow fast at first (WAL before compaction): project from an hour at least.
    projected = used * retention_s / max(covered_s, 3600.0)
    data = {"bytes": used, "free_bytes": free, "retention_s": retention_s,
            "covered_s": round(covered_s), "projected_bytes": round(projected)}  # fmt: skip
    detail = (
        f"{used / 2**20:.0f} MiB for {covered_s / 3600:.1f} h of {retention_s / 86400:.0f} d "
        f"retention; projected {projected / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free"
    )
    if projected > free + used:
        return HealthCheck("tsdb disk", "fail", detail + ": will not fit", data)
    if projected > (free + used) * 0.8:
        return HealthCheck("tsdb disk", "warn", detail + ": tight", data)
    return HealthCheck("tsdb disk", "ok", detail, data)


def check_backups(backups_dir: Path, now: float | None = None) -> HealthCheck:
    """Age of the newest finished backup (`acgs-backup-<time>.acgsbak`), by the time in its
    name; partial files (`*.part`) and anything else in the directory do not count."""
    from acgs_deploy.backup.retention import backup_time

    stamped = [(when, p) for p in sorted(backups_dir.glob("*.acgsbak")) if p.is_file()
               if (when := backup_time(p)) is not None] if backups_dir.is_dir() else []  # fmt: skip
    if not stamped:
        return HealthCheck("last backup", "warn", f"no backup in {backups_dir}: run invoke backup")
    when, newest = max(stamped)
    age_h = ((now or time.time()) - when.timestamp()) / 3600
    data = {"file": str(newest), "age_hours": round(age_h, 2)}
    detail = f"{newest.name}, {age_h:.1f} h old"
    if age_h > BACKUP_FAIL_HOURS:
        return HealthCheck("last backup", "fail", detail, data)
    if age_h > BACKUP_WARN_HOURS:
        return HealthCheck("last backup", "warn", detail, data)
    return HealthCheck("last backup", "ok", detail, data)


def stack_health(settings: StackSettings) -> list[HealthCheck]:
    """Every check against the stack that `settings` describes."""
    checks = []
    for state in LocalBackend(settings).status().components:
        data = {"role": state.role or state.name, "url": state.url, "state": state.state}
        if state.state == "not installed":
            checks.append(HealthCheck(state.name, "warn", f"not installed: {state.hint}", data))
        else:
            status: Status = "ok" if state.state == "healthy" else "fail"
            checks.append(HealthCheck(state.name, status, f"{state.state} at {state.url}", data))
    with stack_client(settings, "prometheus") as prom, stack_client(settings, "alertmanager") as am:
        checks += [
            _guard("prometheus ready", lambda: check_ready("prometheus", prom)),
            _guard("alertmanager ready", lambda: check_ready("alertmanager", am)),
            _guard("targets", lambda: check_targets(prom, expected_targets(settings))),
            _guard("rules", lambda: check_rules(prom)),
            _guard("alertmanager", lambda: check_alertmanager(am)),
            _guard("firing alerts", lambda: check_firing(am)),
            _guard("tsdb disk", lambda: check_tsdb(prom, settings.layout.prometheus_data)),
        ]
    if settings.topology == "ha":
        checks += ha_checks(settings)
    layout = settings.layout
    checks.append(
        _guard("certificates", lambda: check_certificates([layout.ca_cert, layout.server_cert]))
    )
    checks.append(check_backups(layout.backups_dir))
    return checks


def ha_checks(settings: StackSettings) -> list[HealthCheck]:
    """Topology ha: every further replica's targets, the cluster as each peer sees it, the
    replicas' remote_write lag, and a query through the query endpoint."""
    checks = []
    expected = expected_targets(settings)
    for server in prometheus_instances(settings)[1:]:
        with url_endpoint(settings, port_url(settings, server.port)).client() as client:
            for what, check in (
                ("targets", partial(check_targets, client, expected)),
                ("remote write", partial(check_lag, client)),
            ):
                name = f"{server.name} {what}"
                checks.append(dataclasses.replace(_guard(name, check), name=name))
    with stack_client(settings, "prometheus") as first:
        lag = _guard("prometheus remote write", partial(check_lag, first))
        checks.append(dataclasses.replace(lag, name="prometheus remote write"))
    peers = alertmanager_instances(settings)
    checks.append(_guard("alertmanager cluster", lambda: check_cluster(settings, peers)))
    with stack_client(settings, "query") as endpoint:
        checks.append(_guard("query endpoint", lambda: check_query(endpoint)))
    return checks


# remote_write further behind than this (seconds) is a warning: the store is down or slow.
REMOTE_WRITE_LAG_WARN_S = 60.0


def check_lag(prometheus: httpx.Client) -> HealthCheck:
    """How far remote_write trails what the replica has (0 when it keeps up)."""
    lag = query(
        prometheus,
        "max(prometheus_remote_storage_highest_timestamp_in_seconds)"
        " - max(prometheus_remote_storage_queue_highest_sent_timestamp_seconds)",
    )
    if not lag:
        return HealthCheck("remote write", "warn", "nothing sent yet")
    seconds = float(lag[0]["value"][1])
    data = {"lag_s": round(seconds, 1)}
    status: Status = "warn" if seconds > REMOTE_WRITE_LAG_WARN_S else "ok"
    return HealthCheck("remote write", status, f"{seconds:.0f}s behind", data)


def check_cluster(settings: StackSettings, peers: Sequence[Instance]) -> HealthCheck:
    """Every peer sees all the others and has settled (``/api/v2/status`` cluster)."""
    seen = {}
    for peer in peers:
        with url_endpoint(settings, port_url(settings, peer.port)).client() as client:
            cluster = alertmanager_status(client).get("cluster", {})
        seen[peer.name] = (cluster.get("status"), len(cluster.get("peers") or []))
    data = {name: {"status": state, "peers": count} for name, (state, count) in seen.items()}
    short = [f"{name} {state} with {count}" for name, (state, count) in seen.items()
             if state != "ready" or count != len(peers)]  # fmt: skip
    if short:
        return HealthCheck("alertmanager cluster", "fail", "; ".join(short), data)
    return HealthCheck("alertmanager cluster", "ok", f"{len(peers)} peers, all ready", data)


def check_query(endpoint: httpx.Client) -> HealthCheck:
    """The query endpoint answers a query through TLS and auth, with data."""
    found = query(endpoint, "count(up)")
    if not found:
        return HealthCheck("query endpoint", "fail", "answers, but with no data")
    return HealthCheck("query endpoint", "ok", f"answers: {found[0]['value'][1]} targets")


def healthy(checks: Sequence[HealthCheck]) -> bool:
    """Nothing failed (warnings do not fail)."""
    return all(check.status != "fail" for check in checks)


def print_health(checks: Sequence[HealthCheck], console: Console, output_format: str) -> None:
    """The checks as JSON (``{"healthy": ..., "checks": [...]}``) or as a table."""
    if output_format == "json":
        body = {"healthy": healthy(checks), "checks": [asdict(c) for c in checks]}
        console.print_json(json.dumps(body))
        return
    table = Table(title="ACGS monitoring stack health")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail")
    colours = {"ok": "green", "warn": "yellow", "fail": "red"}
    for check in checks:
        colour = colours[check.status]
        table.add_row(check.name, f"[{colour}]{check.status}[/{colour}]", check.detail)
    console.print(table)
