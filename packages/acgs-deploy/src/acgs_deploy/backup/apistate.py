"""State that lives behind an HTTP API rather than in files we copy: Alertmanager silences
and Grafana dashboards (through `acgs_deploy.client`).

Each kind is fetched into one JSON archive member at backup time and put back through the same
API after a restore, skipping what is already there. Failures are `client.APIError`s.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from acgs_deploy.client import (
    APIRefused,
    create_silence,
    grafana_dashboard,
    grafana_health,
    save_grafana_dashboard,
    search_grafana_dashboards,
    silences,
)

SILENCES_MEMBER = "alertmanager/silences.json"
DASHBOARDS_MEMBER = "grafana-api/dashboards.json"
API_MEMBERS = (SILENCES_MEMBER, DASHBOARDS_MEMBER)
_SILENCE_FIELDS = ("matchers", "startsAt", "endsAt", "createdBy", "comment")


def fetch_silences(client: httpx.Client) -> list[dict[str, Any]]:
    """Active and pending silences (expired ones are history, not state)."""
    return [s for s in silences(client) if s.get("status", {}).get("state") != "expired"]


def _instant(value: Any) -> str:
    """An RFC 3339 time as Alertmanager may write it back (another precision or offset),
    normalised to UTC milliseconds so equal instants compare equal."""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")


def _silence_key(silence: dict[str, Any]) -> str:
    """What makes two silences the same one. Not the id: Alertmanager gives a re-created
    silence a new one. Not startsAt: Alertmanager moves a start in the past to the moment of
    creation. So: the matchers (in any order), who made it, why, and when it ends."""
    matchers = sorted(
        (m["name"], m["value"], bool(m.get("isRegex")), bool(m.get("isEqual", True)))
        for m in silence["matchers"]
    )
    key = [matchers, silence.get("createdBy"), silence.get("comment"), _instant(silence["endsAt"])]
    return json.dumps(key)


def restore_silences(client: httpx.Client, wanted: list[dict[str, Any]]) -> int:
    """Create the silences Alertmanager does not have yet, and that have not ended since the
    backup; returns how many were created. Restoring the same backup twice creates none the
    second time."""
    present = {_silence_key(s) for s in fetch_silences(client)}
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    created = 0
    for silence in wanted:
        key = _silence_key(silence)
        if key in present or _instant(silence["endsAt"]) <= now:
            continue
        try:
            # Without the old id: Alertmanager only updates ids it knows.
            create_silence(client, {k: silence[k] for k in _SILENCE_FIELDS})
        except APIRefused as error:
            raise APIRefused(f"Alertmanager refused silence {silence.get('id')}: {error}") from None
        present.add(key)
        created += 1
    return created


def grafana_version(client: httpx.Client) -> str:
    return str(grafana_health(client).get("version", "unknown"))


def fetch_dashboards(client: httpx.Client) -> list[dict[str, Any]]:
    """Every dashboard Grafana holds, with its folder and whether it was provisioned."""
    dashboards = []
    for item in search_grafana_dashboards(client):
        body = grafana_dashboard(client, item["uid"])
        meta = body.get("meta", {})
        dashboards.append(
            {
                "dashboard": body["dashboard"],
                "folderUid": meta.get("folderUid", ""),
                "provisioned": bool(meta.get("provisioned")),
            }
        )
    return dashboards


def restore_dashboards(client: httpx.Client, saved: list[dict[str, Any]]) -> int:
    """Save the dashboards made in Grafana (provisioned ones come back with the config files).

    Returns how many were saved; an existing dashboard with the same uid is overwritten.
    """
    restored = 0
    for entry in saved:
        if entry.get("provisioned"):
            continue
        dashboard = dict(entry["dashboard"])
        dashboard.pop("id", None)  # ids are per database; the uid identifies it
        body = {
            "dashboard": dashboard,
            "folderUid": entry.get("folderUid") or "",
            "overwrite": True,
        }
        try:
            save_grafana_dashboard(client, body)
        except APIRefused as error:
            raise APIRefused(
                f"Grafana refused dashboard {dashboard.get('uid')!r}: {error}"
            ) from None
        restored += 1
    return restored
