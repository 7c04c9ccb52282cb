"""HAProxy's runtime API on a real HAProxy (Debian's 2.6): server states, maintenance and back."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from acgs_deploy import haproxy_runtime
from acgs_deploy.errors import DeployError
from acgs_testkit.ports import free_port
from acgs_testkit.waiting import stop_process, wait_for

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not installed")


@pytest.fixture
def backend() -> Iterator[int]:
    """A plain HTTP server answering 200, on a free port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def admin(tmp_path: Path, backend: int) -> Iterator[Path]:
    sock = tmp_path / "admin.sock"
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        f"global\n  stats socket {sock} mode 600 level admin\n"
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n"
        f"frontend query\n  bind 127.0.0.1:{free_port()}\n  default_backend stores\n"
        "backend stores\n  option httpchk\n  http-check send meth GET uri /\n"
        "  default-server check inter 200ms fall 2 rise 2\n"
        f"  server live 127.0.0.1:{backend}\n  server gone 127.0.0.1:{free_port()} backup\n"
    )
    process = subprocess.Popen(["haproxy", "-W", "-db", "-f", str(config)])
    try:
        wait_for(sock.exists, 10, "the admin socket")
        yield sock
    finally:
        stop_process(process)


def _status(sock: Path) -> dict[str, str]:
    return {s.name: s.status for s in haproxy_runtime.server_stats(sock)}


def test_states_follow_the_health_checks_and_maintenance(admin: Path, backend: int) -> None:
    wait_for(lambda: _status(admin) == {"live": "UP", "gone": "DOWN"}, 10, "checks settled")
    live = next(s for s in haproxy_runtime.server_stats(admin) if s.name == "live")
    assert (live.backend, live.address, live.sessions) == ("stores", f"127.0.0.1:{backend}", 0)
    haproxy_runtime.set_state(admin, live, "maint")
    assert _status(admin)["live"] == "MAINT"
    haproxy_runtime.set_state(admin, live, "ready")
    wait_for(lambda: _status(admin)["live"] == "UP", 10, "live up again")


def test_an_unknown_server_is_refused_by_name(admin: Path) -> None:
    ghost = haproxy_runtime.ServerStat("stores", "ghost", "", "UP", 0)
    with pytest.raises(DeployError, match="HAProxy refused to set ghost maint"):
        haproxy_runtime.set_state(admin, ghost, "maint")


def test_no_socket_says_so(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match=r"admin socket .*nothing.sock did not answer"):
        haproxy_runtime.server_stats(tmp_path / "nothing.sock")
