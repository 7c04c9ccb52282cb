"""Grafana dashboards through its HTTP API. Grafana cannot be installed on these machines, so
this runs against a small stand-in that answers the three endpoints the backup uses, the way
Grafana 10/11 documents them (search, get by uid, save with overwrite; provisioned dashboards
cannot be saved). Silences are tested against the real Alertmanager in test_backup_restore."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from acgs_deploy.backup.apistate import (
    fetch_dashboards,
    grafana_version,
    restore_dashboards,
)
from acgs_deploy.client import APIRefused


class StandInGrafana(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.saved: list[dict[str, Any]] = []


class _Handler(BaseHTTPRequestHandler):
    server: StandInGrafana

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/api/health":
            self._send(200, {"database": "ok", "version": "11.6.0"})
        elif self.path.startswith("/api/search"):
            items = [{"uid": uid, "type": "dash-db"} for uid in sorted(self.server.dashboards)]
            self._send(200, items)
        elif self.path.startswith("/api/dashboards/uid/"):
            entry = self.server.dashboards.get(self.path.rsplit("/", 1)[1])
            self._send(200, entry) if entry else self._send(404, {"message": "not found"})
        else:
            self._send(404, {"message": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        uid = body["dashboard"]["uid"]
        existing = self.server.dashboards.get(uid)
        if existing and existing["meta"].get("provisioned"):
            self._send(400, {"message": "Cannot save provisioned dashboard"})
            return
        if existing and not body.get("overwrite"):
            self._send(412, {"message": "version-mismatch"})
            return
        self.server.saved.append(body)
        meta = {"folderUid": body.get("folderUid", ""), "provisioned": False}
        self.server.dashboards[uid] = {"dashboard": body["dashboard"], "meta": meta}
        self._send(200, {"status": "success", "uid": uid})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def grafana() -> Iterator[StandInGrafana]:
    server = StandInGrafana()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_dashboards_round_trip_skipping_provisioned(grafana: StandInGrafana) -> None:
    grafana.dashboards = {
        "made-in-ui": {
            "dashboard": {"id": 7, "uid": "made-in-ui", "title": "Mine", "panels": [{"id": 1}]},
            "meta": {"folderUid": "team", "provisioned": False},
        },
        "acgs-overview": {
            "dashboard": {"id": 3, "uid": "acgs-overview", "title": "ACGS"},
            "meta": {"folderUid": "", "provisioned": True},
        },
    }
    client = httpx.Client(base_url=f"http://127.0.0.1:{grafana.server_address[1]}")
    assert grafana_version(client) == "11.6.0"
    saved = fetch_dashboards(client)
    assert {d["dashboard"]["uid"]: d["provisioned"] for d in saved} == {
        "made-in-ui": False,
        "acgs-overview": True,
    }

    grafana.dashboards.pop("made-in-ui")
    assert restore_dashboards(client, saved) == 1
    (posted,) = grafana.saved
    assert posted["overwrite"] is True
    assert posted["folderUid"] == "team"
    assert "id" not in posted["dashboard"]
    assert grafana.dashboards["made-in-ui"]["dashboard"]["panels"] == [{"id": 1}]


def test_refusal_is_named(grafana: StandInGrafana) -> None:
    grafana.dashboards = {
        "locked": {"dashboard": {"uid": "locked"}, "meta": {"provisioned": True}},
    }
    client = httpx.Client(base_url=f"http://127.0.0.1:{grafana.server_address[1]}")
    # Saved as made-in-UI, but Grafana now has it provisioned: its refusal is reported.
    with pytest.raises(APIRefused, match="Grafana refused dashboard 'locked'"):
        restore_dashboards(client, [{"dashboard": {"uid": "locked"}, "provisioned": False}])
