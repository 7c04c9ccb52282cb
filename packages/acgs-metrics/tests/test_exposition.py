"""Exposition over real sockets: HTTP, TLS (real handshakes), mutual TLS, basic auth, ASGI.

The ASGI app is driven by a real uvicorn server on a free loopback port.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry, Counter

from acgs_metrics.exposition import (
    BasicAuth,
    ServerHandle,
    TLSConfig,
    make_asgi_app,
    make_wsgi_app,
    serve_wsgi,
    start_http_server,
)
from acgs_testkit.ca import Certs
from acgs_testkit.handshake import AEAD_TLS12, CBC_ONLY, REFUSED, handshake
from acgs_testkit.waiting import wait_for

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("acgs_demo_requests", "Demo requests.", ["route"], registry=registry).labels("/a").inc(
        3
    )
    Counter("acgs_other_events", "Other events.", registry=registry).inc()
    return registry


@pytest.fixture
def server(registry: CollectorRegistry) -> Iterator[ServerHandle]:
    handle = start_http_server(0, registry=registry)
    try:
        yield handle
    finally:
        handle.shutdown()


def test_serves_text_format_on_a_free_port(server: ServerHandle) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == TEXT_TYPE
    assert 'acgs_demo_requests_total{route="/a"} 3.0' in response.text


def test_openmetrics_by_accept_header(server: ServerHandle) -> None:
    response = httpx.get(f"{server.url}/metrics", headers={"Accept": OPENMETRICS})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
    assert 'acgs_demo_requests_total{route="/a"} 3.0' in response.text


def test_gzip_when_asked(server: ServerHandle) -> None:
    headers = {"Accept-Encoding": "gzip"}
    with httpx.stream("GET", f"{server.url}/metrics", headers=headers) as response:
        assert response.headers["content-encoding"] == "gzip"
        raw = b"".join(response.iter_raw())
    assert b"acgs_demo_requests_total" in gzip.decompress(raw)


def test_name_filter_head_404_and_405(server: ServerHandle) -> None:
    only = httpx.get(f"{server.url}/metrics", params={"name[]": "acgs_other_events_total"})
    assert "acgs_other_events_total" in only.text
    assert "acgs_demo_requests" not in only.text
    head = httpx.head(f"{server.url}/metrics")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert httpx.get(f"{server.url}/nope").status_code == 404
    post = httpx.post(f"{server.url}/metrics")
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD"


def test_shutdown_is_idempotent_and_frees_the_port(registry: CollectorRegistry) -> None:
    with start_http_server(0, registry=registry) as handle:
        assert handle.running
        port = handle.port
    assert not handle.running
    handle.shutdown()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_port_in_use_names_the_address(server: ServerHandle) -> None:
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        serve_wsgi(make_wsgi_app(), port=server.port)


def test_serves_any_wsgi_app() -> None:
    def hello(environ: dict[str, object], start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [f"hello {environ['PATH_INFO']}".encode()]

    with serve_wsgi(hello) as handle:
        assert httpx.get(f"{handle.url}/x").text == "hello /x"


# --- TLS -----------------------------------------------------------------------------------


def test_tls_handshake_verified_against_the_ca(registry: CollectorRegistry, certs: Certs) -> None:
    tls = TLSConfig(certs.server_cert, certs.server_key)
    with start_http_server(0, registry=registry, tls=tls) as handle:
        assert handle.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(certs.ca))
        response = httpx.get(f"{handle.url}/metrics", verify=context)
        assert response.status_code == 200
        assert "acgs_demo_requests_total" in response.text
        # A client that trusts another CA refuses the server.
        wrong = ssl.create_default_context(cafile=str(certs.other_ca))
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{handle.url}/metrics", verify=wrong)
        # Plain HTTP on the TLS port fails, and the server keeps serving afterwards.
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{handle.port}/metrics", timeout=3)
        assert httpx.get(f"{handle.url}/metrics", verify=context).status_code == 200


def test_a_silent_tls_client_does_not_block_others(
    registry: CollectorRegistry, certs: Certs
) -> None:
    tls = TLSConfig(certs.server_cert, certs.server_key)
    context = ssl.create_default_context(cafile=str(certs.ca))
    with start_http_server(0, registry=registry, tls=tls) as handle:
        silent = socket.create_connection(("127.0.0.1", handle.port))
        try:
            start = time.monotonic()
            response = httpx.get(f"{handle.url}/metrics", verify=context, timeout=5)
            assert response.status_code == 200
            assert time.monotonic() - start < 5
        finally:
            silent.close()


def test_mutual_tls_requires_a_client_certificate(
    registry: CollectorRegistry, certs: Certs
) -> None:
    c = certs
    tls = TLSConfig(c.server_cert, c.server_key, client_ca_file=c.ca)
    with start_http_server(0, registry=registry, tls=tls) as handle:
        anonymous = ssl.create_default_context(cafile=str(c.ca))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{handle.url}/metrics", verify=anonymous, timeout=3)
        with_cert = ssl.create_default_context(cafile=str(c.ca))
        with_cert.load_cert_chain(str(c.client_cert), str(c.client_key))
        assert httpx.get(f"{handle.url}/metrics", verify=with_cert).status_code == 200


def test_tls12_offers_only_forward_secret_aead_suites(
    registry: CollectorRegistry, certs: Certs
) -> None:
    tls = TLSConfig(certs.server_cert, certs.server_key)
    with start_http_server(0, registry=registry, tls=tls) as handle:
        with pytest.raises(ssl.SSLError, match=REFUSED):
            handshake(handle.port, certs.ca, CBC_ONLY)
        for kind, ciphers in AEAD_TLS12.items():
            version, cipher = handshake(handle.port, certs.ca, ciphers)
            assert version == "TLSv1.2"
            assert cipher.startswith("ECDHE-ECDSA-")
            assert ("GCM" if kind == "aes-gcm" else "CHACHA20") in cipher
        assert handshake(handle.port, certs.ca, tls12=False)[0] == "TLSv1.3"
        # The refused handshakes left the server serving.
        verify = ssl.create_default_context(cafile=str(certs.ca))
        assert httpx.get(f"{handle.url}/metrics", verify=verify).status_code == 200


def test_bad_tls_files_are_a_clear_error(tmp_path: Path, certs: Certs) -> None:
    missing = tmp_path / "missing.key"
    with pytest.raises(ValueError, match=r"cannot load TLS files .*missing\.key"):
        serve_wsgi(make_wsgi_app(), tls=TLSConfig(certs.server_cert, missing))
    with pytest.raises(ValueError, match="key matches the certificate"):
        serve_wsgi(
            make_wsgi_app(),
            tls=TLSConfig(certs.server_cert, certs.client_key),
        )


# --- basic auth ------------------------------------------------------------------------------

AUTH = BasicAuth("prometheus", "s3cret-pass")


def test_basic_auth_401_without_or_with_wrong_credentials(
    registry: CollectorRegistry, certs: Certs
) -> None:
    tls = TLSConfig(certs.server_cert, certs.server_key)
    verify = ssl.create_default_context(cafile=str(certs.ca))
    with start_http_server(0, registry=registry, tls=tls, basic_auth=AUTH) as handle:
        url = f"{handle.url}/metrics"
        none = httpx.get(url, verify=verify)
        assert none.status_code == 401
        assert none.headers["www-authenticate"].startswith('Basic realm="acgs"')
        assert "acgs_demo" not in none.text
        for user, password in [
            ("prometheus", "wrong"),
            ("admin", "s3cret-pass"),
            ("prometheus", "s3cret-pass2"),
        ]:
            assert httpx.get(url, verify=verify, auth=(user, password)).status_code == 401
        good = httpx.get(url, verify=verify, auth=("prometheus", "s3cret-pass"))
        assert good.status_code == 200
        assert "acgs_demo_requests_total" in good.text


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer abc", "Basic !!!", "Basic cHJvbWV0aGV1cw==", "Basic " + "A" * 3],
)
def test_malformed_authorization_headers_are_refused(header: str | None) -> None:
    assert not AUTH.check(header)


def test_password_stays_out_of_repr_and_errors() -> None:
    assert "s3cret" not in repr(AUTH)
    assert "s3cret" not in str(AUTH)
    with pytest.raises(ValueError, match="must not be empty"):
        BasicAuth("u", "")
    with pytest.raises(ValueError, match="no ':'"):
        BasicAuth("a:b", "pw")


# --- ASGI through a real uvicorn server ---------------------------------------------------


@pytest.fixture
def run_asgi() -> Iterator[object]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: object) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)  # type: ignore[arg-type]
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread))

        def started() -> bool:
            if not thread.is_alive():
                raise RuntimeError("uvicorn exited at start")
            return server.started

        wait_for(started, 10, "uvicorn to start", every_s=0.02)
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for server, thread in servers:
            server.should_exit = True
            thread.join(timeout=10)


def test_asgi_app_under_uvicorn(registry: CollectorRegistry, run_asgi: object) -> None:
    url = run_asgi(make_asgi_app(registry))  # type: ignore[operator]
    text = httpx.get(f"{url}/metrics")
    assert text.status_code == 200
    assert text.headers["content-type"] == TEXT_TYPE
    assert 'acgs_demo_requests_total{route="/a"} 3.0' in text.text
    om = httpx.get(f"{url}/metrics", headers={"Accept": OPENMETRICS})
    assert om.text.endswith("# EOF\n")
    assert httpx.get(f"{url}/other").status_code == 404
    assert httpx.post(f"{url}/metrics").status_code == 405


def test_asgi_app_with_basic_auth(registry: CollectorRegistry, run_asgi: object) -> None:
    url = run_asgi(make_asgi_app(registry, basic_auth=AUTH))  # type: ignore[operator]
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/metrics", auth=("prometheus", "nope")).status_code == 401
    ok = httpx.get(f"{url}/metrics", auth=("prometheus", "s3cret-pass"))
    assert ok.status_code == 200
    assert "acgs_demo_requests_total" in ok.text


def test_mounted_apps_serve_at_their_mount_point(registry: CollectorRegistry) -> None:
    app = make_wsgi_app(registry)

    def call(script_name: str, path_info: str) -> str:
        statuses: list[str] = []
        environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": script_name, "PATH_INFO": path_info}

        def start_response(status: str, headers: object, exc_info: object = None) -> Any:
            statuses.append(status)

        b"".join(app(environ, start_response))
        return statuses[0]

    assert call("", "/metrics") == "200 OK"
    assert call("/metrics", "") == "200 OK"
    assert call("/internal/metrics", "/") == "200 OK"
    assert call("/metrics", "/other") == "404 Not Found"
    assert call("", "/") == "404 Not Found"


def test_asgi_app_mounted_under_a_root_path(registry: CollectorRegistry) -> None:
    # What Starlette's app.mount("/prom", metrics_app) passes: full path plus root_path.
    app = make_asgi_app(registry)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/prom", "root_path": "/prom", "headers": []}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 200
    assert b"acgs_demo_requests_total" in sent[1]["body"]


def test_ipv6_loopback(registry: CollectorRegistry) -> None:
    if not socket.has_ipv6:
        pytest.fail("this machine has no IPv6 support; the test needs ::1")
    with start_http_server(0, host="::1", registry=registry) as handle:
        assert handle.url == f"http://[::1]:{handle.port}"
        assert "acgs_demo_requests_total" in httpx.get(f"{handle.url}/metrics").text


def test_asgi_app_mounted_in_starlette(registry: CollectorRegistry, run_asgi: Any) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    async def home(request: object) -> PlainTextResponse:
        return PlainTextResponse("service")

    app = Starlette(routes=[Route("/", home), Mount("/metrics", app=make_asgi_app(registry))])
    url = run_asgi(app)
    assert httpx.get(f"{url}/").text == "service"
    for path in ("/metrics", "/metrics/"):
        response = httpx.get(f"{url}{path}", follow_redirects=True)
        assert response.status_code == 200, path
        assert 'acgs_demo_requests_total{route="/a"} 3.0' in response.text
    assert httpx.get(f"{url}/metrics/other").status_code == 404
