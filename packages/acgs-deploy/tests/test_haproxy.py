"""The HAProxy building blocks on a real HAProxy: the native exporter behind TLS and bcrypt
basic auth, a TLS and auth front for a plain-HTTP server with health checks, and a refused
configuration never replacing a working one."""

from __future__ import annotations

import shutil
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from acgs_deploy import haproxy
from acgs_deploy.client import Endpoint
from acgs_deploy.layout import StateLayout
from acgs_deploy.process import ProcessManager
from acgs_deploy.secrets import hash_password
from acgs_testkit.ca import make_certs
from acgs_testkit.ports import free_port
from acgs_testkit.waiting import poll

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="no haproxy here")

USER, PASSWORD = "acgs_monitor", "a-test-password"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"{self.path} auth={self.headers.get('Authorization') is not None}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _config(pem: Path, metrics: int, front: int, upstream: int) -> str:
    return "\n".join(
        [
            haproxy.global_section(),
            haproxy.userlist("monitoring", {USER: hash_password(PASSWORD)}),
            haproxy.metrics_frontend("metrics", f"127.0.0.1:{metrics}", pem, "monitoring"),
            haproxy.tls_auth_front("front", f"127.0.0.1:{front}", pem, "monitoring", "up"),
            haproxy.http_backend(
                "up", [haproxy.Backend("one", f"127.0.0.1:{upstream}")], health_path="/health"
            ),
        ]
    )


def test_exporter_and_front_behind_tls_and_auth(tmp_path: Path, upstream: int) -> None:
    certs = make_certs(tmp_path / "certs")
    layout = StateLayout(tmp_path / "state")
    layout.certs_dir.mkdir(parents=True)
    for source, target in (
        (certs.server_cert, layout.server_cert),
        (certs.server_key, layout.server_key),
    ):
        target.write_bytes(source.read_bytes())
    pem = haproxy.ensure_pem_bundle(layout)
    assert pem.stat().st_mode & 0o777 == 0o600
    metrics, front = free_port(), free_port()
    live = tmp_path / "haproxy.cfg"
    assert haproxy.install_config(_config(pem, metrics, front, upstream), live)
    assert "password $2b$04$" in live.read_text()
    assert PASSWORD not in live.read_text()
    manager = ProcessManager(tmp_path / "run", tmp_path / "logs")
    manager.start(haproxy.haproxy_spec("haproxy", live))
    try:
        good = Endpoint(f"https://127.0.0.1:{metrics}", certs.ca, USER, PASSWORD)
        with good.client(5) as client:
            assert poll(lambda: _status(client, "/metrics"), lambda s: s == 200, 10, 0.1) == 200
            assert "haproxy_process_start_time_seconds" in client.get("/metrics").text
            assert client.get("/other").status_code == 404
        bad = Endpoint(f"https://127.0.0.1:{metrics}", certs.ca, USER, "wrong")
        with bad.client(5) as client:
            assert client.get("/metrics").status_code == 401
        with Endpoint(f"https://127.0.0.1:{metrics}", certs.ca).client(5) as client:
            assert client.get("/metrics").status_code == 401
        with pytest.raises(httpx.TransportError), httpx.Client(timeout=5) as plain:
            plain.get(f"http://127.0.0.1:{metrics}/metrics")
        through = Endpoint(f"https://127.0.0.1:{front}", certs.ca, USER, PASSWORD)
        with through.client(5) as client:
            answer = client.get("/metrics")
        # Through to the plain server, without the credentials that opened the front.
        assert (answer.status_code, answer.text) == (200, "/metrics auth=False")
    finally:
        manager.stop("haproxy")


def _status(client: httpx.Client, path: str) -> int:
    try:
        return client.get(path).status_code
    except (httpx.TransportError, ssl.SSLError):
        return 0


def test_refused_config_keeps_the_working_one(tmp_path: Path) -> None:
    live = tmp_path / "haproxy.cfg"
    working = haproxy.global_section() + "frontend f\n  bind 127.0.0.1:1\n  http-request deny\n"
    assert haproxy.install_config(working, live)
    assert not haproxy.install_config(working, live)  # unchanged: not rewritten
    with pytest.raises(haproxy.HAProxyConfigError, match="haproxy -c -f"):
        haproxy.install_config(working + "  no-such-keyword here\n", live)
    assert live.read_text() == working
    assert [p.name for p in tmp_path.iterdir()] == ["haproxy.cfg"]


def test_userlist_refuses_a_plain_password() -> None:
    with pytest.raises(ValueError, match="not a crypt"):
        haproxy.userlist("monitoring", {USER: PASSWORD})
