from __future__ import annotations

import threading
from pathlib import Path

import httpx

from acgs_deploy.webhook import read_notifications, serve


def test_records_posts_and_answers_health(tmp_path: Path) -> None:
    out = tmp_path / "webhook.jsonl"
    server = serve("127.0.0.1", 0, out)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert httpx.get(f"{base}/health").text == "ok\n"
        assert read_notifications(out) == []
        payload = {"status": "firing", "alerts": [{"labels": {"alertname": "X"}}]}
        assert httpx.post(f"{base}/alerts", json=payload).status_code == 200
        httpx.post(f"{base}/alerts", content=b"not json")
        records = read_notifications(out)
        assert records[0]["payload"] == payload
        assert records[0]["path"] == "/alerts"
        assert records[1]["payload"] == "not json"
    finally:
        server.shutdown()
        server.server_close()
