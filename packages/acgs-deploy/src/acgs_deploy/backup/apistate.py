"""State that lives behind an HTTP API rather than in files we copy: Alertmanager silences
(`/api/v2/silences`) and Grafana dashboards (`/api/search`, `/api/dashboards/...`).

Each kind is fetched into one JSON archive member at backup time and put back through the same
API after a restore, skipping what is already there.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

SILENCES_MEMBER = "alertmanager/silences.json"
DASHBOARDS_MEMBER = "grafana-api/dashboards.json"
API_MEMBERS = (SILENCES_MEMBER, DASHBOARDS_MEMBER)
_SILENCE_FIELDS = ("matchers", "startsAt", "endsAt", "createdBy", "comment")


class APIStateError(Exception):
    """A component's API refused to give or take back its state."""


def _get_json(client: httpx.Client, path: str, what: str, **params: Any) -> Any:
    try:
        response = client.get(path, params=params or None)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise APIStateError(f"{what} at {client.base_url}{path}: {error}") from None


def fetch_silences(client: httpx.Client) -> list[dict[str, Any]]:
    """Active and pending silences (expired ones are history, not state)."""
    silences = _get_json(client, "/api/v2/silences", "Alertmanager")
    return [s for s in silences if s.get("status", {}).get("state") != "expired"]


def _silence_key(silence: dict[str, Any]) -> str:
    return json.dumps({k: silence.get(k) for k in _SILENCE_FIELDS}, sort_keys=True)


def restore_silences(client: httpx.Client, wanted: list[dict[str, Any]]) -> int:
    """Create the silences Alertmanager does not have yet; returns how many were created."""
    present = {_silence_key(s) for s in fetch_silences(client)}
    created = 0
    for silence in wanted:
        if _silence_key(silence) in present:
            continue
        # Without the old id: Alertmanager only updates ids it knows.
        reply = client.post("/api/v2/silences", json={k: silence[k] for k in _SILENCE_FIELDS})
        if reply.status_code >= 400:
            raise APIStateError(
                f"Alertmanager refused silence {silence.get('id')}: {reply.text[:200]}"
            )
        created += 1
    return created


def grafana_version(client: httpx.Client) -> str:
    health = _get_json(client, "/api/health", "Grafana")
    return str(health.get("version", "unknown"))


def fetch_dashboards(client: httpx.Client) -> list[dict[str, Any]]:
    """Every dashboard Grafana holds, with its folder and whether it was provisioned."""
    found = _get_json(client, "/api/search", "Grafana", type="dash-db", limit=5000)
    dashboards = []
    for item in found:
        body = _get_json(client, f"/api/dashboards/uid/{item['uid']}", "Grafana")
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
        reply = client.post("/api/dashboards/db", json=body)
        if reply.status_code >= 400:
            raise APIStateError(
                f"Grafana refused dashboard {dashboard.get('uid')!r}: {reply.text[:200]}"
            )
        restored += 1
    return restored
