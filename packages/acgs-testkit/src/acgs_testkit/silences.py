"""Alertmanager silences for tests and benchmarks, through acgs_deploy.client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import httpx

from acgs_deploy.client import create_silence, silences

__all__ = ["live_silence_ids", "make_silence"]


def make_silence(
    client: httpx.Client,
    matchers: Mapping[str, str],
    *,
    hours: float = 1.0,
    created_by: str = "acgs-testkit",
    comment: str = "made by a test",
) -> str:
    """A silence of the series whose labels equal ``matchers``, from now for ``hours``; its id."""
    now = dt.datetime.now(dt.UTC)
    return create_silence(
        client,
        {
            "matchers": [
                {"name": name, "value": value, "isRegex": False} for name, value in matchers.items()
            ],
            "startsAt": now.isoformat(),
            "endsAt": (now + dt.timedelta(hours=hours)).isoformat(),
            "createdBy": created_by,
            "comment": comment,
        },
    )


def live_silence_ids(client: httpx.Client) -> set[str]:
    """The ids of the silences Alertmanager holds that have not expired."""
    return {s["id"] for s in silences(client) if s["status"]["state"] != "expired"}
