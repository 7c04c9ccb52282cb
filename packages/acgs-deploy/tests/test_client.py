"""The one client for the stack's APIs: its errors name the component, the URL and the fix."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from acgs_deploy.client import (
    APIError,
    APIRefused,
    APIUnreachable,
    Endpoint,
    alertmanager_status,
    base_url,
    endpoint,
    query,
    query_range,
    receivers,
    take_snapshot,
)
from acgs_deploy.settings import StackSettings
from acgs_testkit.ports import free_port

from .conftest import Stack


class _NotPrometheus(BaseHTTPRequestHandler):
    """Answers 404 to every POST (no admin API) and plain text to every GET."""

    def do_POST(self) -> None:
        self._answer(404, b"404 page not found\n")

    def do_GET(self) -> None:
        self._answer(200, b"<html>a proxy's login page</html>")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_prometheus() -> Iterator[Endpoint]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotPrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Endpoint(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


def test_wrong_credentials_are_named(stack: Stack) -> None:
    with (
        dataclasses.replace(stack.prometheus, password="nope").client() as client,
        pytest.raises(APIRefused, match="401 unauthorized: check the credentials"),
    ):
        query(client, "up")


def test_a_server_that_does_not_answer_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Endpoint(url).client() as client, pytest.raises(APIUnreachable) as caught:
        receivers(client)
    assert str(caught.value).startswith(f"Alertmanager: GET {url}/api/v2/receivers: ConnectError")


def test_prometheus_errors_carry_its_message(stack: Stack) -> None:
    with stack.prometheus.client() as client, pytest.raises(APIRefused) as caught:
        query(client, "sum(")
    message = str(caught.value)
    assert message.startswith(f"Prometheus: GET {stack.prometheus.base_url}/api/v1/query: HTTP 400")
    assert "parse error" in message


def test_no_admin_api_and_not_json_are_named(not_prometheus: Endpoint, tmp_path: Path) -> None:
    with not_prometheus.client() as client:
        hint = r"no admin API: start it with --web\.enable-admin-api"
        with pytest.raises(APIRefused, match=hint):
            take_snapshot(client, tmp_path)
        with pytest.raises(APIRefused, match=r"/api/v2/status: HTTP 200, not JSON"):
            alertmanager_status(client)
    assert issubclass(APIRefused, APIError)
    assert issubclass(APIUnreachable, APIError)


def test_a_long_range_is_queried_in_chunks_without_gaps_or_overlap(stack: Stack) -> None:
    end = float(int(time.time()))
    start = end - 25_000  # at a 1 s step: three queries under the 11,000 points limit
    with stack.prometheus.client() as client:
        (series,) = query_range(client, "vector(1)", start, end, 1.0)
    stamps = [float(t) for t, _ in series["values"]]
    assert stamps[0] == start
    assert stamps[-1] == end
    assert stamps == [start + i for i in range(len(stamps))]


def test_a_stack_endpoint_trusts_its_ca_and_brackets_ipv6(tmp_path: Path) -> None:
    settings = StackSettings.load(tmp_path / "state", host="::1", prometheus_port=19090)
    assert base_url(settings, "prometheus") == "https://[::1]:19090"
    anonymous = endpoint(settings, "prometheus", auth=False)
    assert anonymous.ca_file == settings.layout.ca_cert
    assert anonymous.authorization is None
