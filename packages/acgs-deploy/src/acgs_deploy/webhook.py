"""The demo alert receiver: an HTTP server that appends every POST to a JSONL file.

Alertmanager's webhook receiver posts here in demo mode; tests and people read
``<state>/logs/webhook.jsonl`` to see which notifications arrived. ``GET /health`` answers
``ok``. Loopback only: it is a demo part, not a production receiver.

    python -m acgs_deploy.webhook --port 9097 --out state/logs/webhook.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["main", "read_notifications", "serve"]

MAX_BODY = 1 << 20


def read_notifications(path: Path) -> list[dict[str, object]]:
    """Every notification recorded so far (an empty list before the first)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def serve(host: str, port: int, out: Path) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` recording into ``out``; call ``serve_forever()``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(HTTPStatus.OK, b"ok\n")
            else:
                self._reply(HTTPStatus.NOT_FOUND, b"POST notifications; GET /health\n")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"too large\n")
                return
            body = self.rfile.read(length)
            try:
                payload: object = json.loads(body)
            except ValueError:
                payload = body.decode(errors="replace")
            record = {
                "received_at": dt.datetime.now(dt.UTC).isoformat(),
                "path": self.path,
                "payload": payload,
            }
            with lock, out.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            self._reply(HTTPStatus.OK, b"recorded\n")

        def _reply(self, status: HTTPStatus, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the JSONL file is the record; keep the log for errors

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m acgs_deploy.webhook",
        description="Record alert notifications (demo mode): every POST becomes a JSON line.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default loopback)")
    parser.add_argument("--port", type=int, required=True, help="listen port")
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to append to")
    args = parser.parse_args(argv)
    server = serve(args.host, args.port, args.out)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
