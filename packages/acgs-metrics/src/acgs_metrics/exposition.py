"""Exposition: a registry's samples over HTTP(S), as a WSGI or ASGI app, with optional basic auth.

    from acgs_metrics.exposition import BasicAuth, TLSConfig, start_http_server

    server = start_http_server(9464, tls=TLSConfig("server.crt", "server.key"),
                               basic_auth=BasicAuth("prometheus", password))
    ...
    server.shutdown()

:func:`serve_wsgi` is the small threaded server underneath; acgs-sim serves its demo
services with it too. Each connection gets its own daemon thread, and the TLS handshake
happens in that thread, so one slow or broken client never stalls the accept loop.

When ``PROMETHEUS_MULTIPROC_DIR`` is set, the apps render a fresh registry that aggregates
every process's files, on each scrape (see :mod:`acgs_metrics.multiprocess`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import gzip
import hmac
import logging
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import TCPServer, ThreadingMixIn
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import gzip_accepted
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from acgs_metrics.multiprocess import check_multiprocess_dir, scrape_registry
from acgs_metrics.rendering import choose_renderer
from acgs_metrics.schema import encodable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
else:
    StartResponse = WSGIApplication = WSGIEnvironment = Any

__all__ = [
    "BasicAuth",
    "ServerHandle",
    "TLSConfig",
    "make_asgi_app",
    "make_wsgi_app",
    "render",
    "require_basic_auth",
    "serve_wsgi",
    "start_http_server",
]

log = logging.getLogger("acgs_metrics")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

METRICS_PATH = "/metrics"
# TLS 1.2 suites (OpenSSL names): forward-secret AEAD only, no CBC, no static RSA or DHE key
# exchange. TLS 1.3 keeps OpenSSL's own suites, which are all AEAD.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
# A client that sends nothing for this long loses its connection (and its thread).
CONNECTION_TIMEOUT_S = 30.0


def render(registry: Collector = REGISTRY, accept: str | None = None) -> tuple[bytes, str]:
    """The registry's samples in the format ``accept`` asks for: (body, content type).

    The bytes are prometheus_client's, rendered faster (:mod:`acgs_metrics.rendering`).

    A sample with a label value that is not UTF-8 (an unpaired surrogate) cannot be encoded
    and takes the whole page with it. The guard of :mod:`acgs_metrics.instruments` never
    writes one, but a metric made with prometheus_client directly can, and so can a
    multiprocess file written without the guard: then, and only then, the page is rendered
    again without those samples, and the first drop of each metric is logged.
    """
    renderer, content_type = choose_renderer(accept or "")
    try:
        return renderer(registry), content_type
    except UnicodeEncodeError:
        return renderer(_Utf8Only(registry)), content_type


class _Utf8Only:
    """A collector's families with every sample that cannot be encoded as UTF-8 left out."""

    def __init__(self, source: Collector) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        for metric in self._source.collect():
            kept = [sample for sample in metric.samples if _encodable_sample(sample)]
            help_ok = encodable(metric.documentation)
            if len(kept) == len(metric.samples) and help_ok:
                yield metric
                continue
            if not encodable(metric.name):
                _report_drop(metric.name, "the whole metric (its name)")
                continue
            dropped = len(metric.samples) - len(kept)
            _report_drop(metric.name, f"{dropped} sample(s)" + ("" if help_ok else " and help"))
            copy = Metric(
                metric.name, metric.documentation if help_ok else "", metric.type, metric.unit
            )
            copy.samples = kept
            yield copy


def _encodable_sample(sample: Sample) -> bool:
    exemplar = sample.exemplar.labels.items() if sample.exemplar else ()
    return all(
        encodable(name) and encodable(value) for name, value in (*sample.labels.items(), *exemplar)
    )


_REPORTED: set[str] = set()  # metric names whose drops were logged (one line each)


def _report_drop(name: str, what: str) -> None:
    if name in _REPORTED:
        return
    _REPORTED.add(name)
    log.error(
        "%r: %s left out of /metrics, not valid UTF-8 (an unpaired surrogate); write it "
        "through acgs_metrics instruments (they fold such values) or fix it where it is made",
        name,
        what,
    )


# --- TLS and basic auth -----------------------------------------------------------------


@dataclass(frozen=True)
class TLSConfig:
    """Server certificate and key (PEM); with ``client_ca_file``, clients must present a
    certificate signed by that CA (mutual TLS)."""

    cert_file: str | Path
    key_file: str | Path
    client_ca_file: str | Path | None = None

    def server_context(self) -> ssl.SSLContext:
        """A server-side context: TLS 1.2 or later (1.2 with :data:`TLS12_CIPHERS` only),
        client certificates when configured."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(TLS12_CIPHERS)
        try:
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
            if self.client_ca_file is not None:
                context.load_verify_locations(cafile=str(self.client_ca_file))
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as error:
            raise ValueError(
                f"cannot load TLS files (cert {self.cert_file}, key {self.key_file}"
                f"{f', client CA {self.client_ca_file}' if self.client_ca_file else ''}): "
                f"{error}; check the paths and that the key matches the certificate"
            ) from None
        return context


@dataclass(frozen=True)
class BasicAuth:
    """HTTP basic auth credentials. The password never appears in repr, logs or errors."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.username or ":" in self.username:
            raise ValueError("basic auth username must be non-empty and contain no ':'")
        if not self.password:
            raise ValueError("basic auth password must not be empty")

    def check(self, authorization: str | None) -> bool:
        """True when an ``Authorization`` header carries these credentials.

        Both parts are compared in constant time, and both are always compared, so the
        response time says nothing about which part (or how much of it) was right.
        """
        if not authorization:
            return False
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        username, sep, password = decoded.partition(b":")
        user_ok = hmac.compare_digest(username, self.username.encode())
        password_ok = hmac.compare_digest(password, self.password.encode())
        return bool(sep) and user_ok and password_ok


_UNAUTHORIZED_HEADERS = [
    ("WWW-Authenticate", 'Basic realm="acgs", charset="UTF-8"'),
    ("Content-Type", "text/plain; charset=utf-8"),
]
_UNAUTHORIZED_BODY = b"401 Unauthorized: send basic auth credentials\n"


def require_basic_auth(app: WSGIApplication, auth: BasicAuth) -> WSGIApplication:
    """Wrap a WSGI app so that every request needs ``auth``'s credentials (else 401)."""

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if auth.check(environ.get("HTTP_AUTHORIZATION")):
            return app(environ, start_response)
        start_response("401 Unauthorized", list(_UNAUTHORIZED_HEADERS))
        return [_UNAUTHORIZED_BODY]

    return guarded


# --- the metrics endpoint as WSGI and ASGI apps ----------------------------------------------


def _is_metrics_path(path: str, mount: str) -> bool:
    """``/metrics`` when served at the root; the mount point itself when mounted elsewhere
    (Starlette's ``app.mount("/metrics", ...)``, a WSGI dispatcher's ``SCRIPT_NAME``)."""
    if mount and path.startswith(mount):
        path = path[len(mount) :]
        return path in ("", "/")
    return path in (METRICS_PATH, METRICS_PATH + "/")


def _metrics_response(
    registry: CollectorRegistry,
    method: str,
    path: str,
    mount: str,
    query: str,
    accept: str | None,
    accept_encoding: str | None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for one request to the metrics app (shared by WSGI and ASGI)."""
    if not _is_metrics_path(path, mount):
        return (
            404,
            [("Content-Type", "text/plain; charset=utf-8")],
            b"404 Not Found: try /metrics\n",
        )
    if method not in ("GET", "HEAD"):
        headers = [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")]
        return 405, headers, b"405 Method Not Allowed: use GET\n"
    aggregate = scrape_registry(registry)
    names = parse_qs(query).get("name[]")
    source: Collector = aggregate.restricted_registry(names) if names else aggregate
    body, content_type = render(source, accept)
    headers = [("Content-Type", content_type), ("Vary", "Accept, Accept-Encoding")]
    if gzip_accepted(accept_encoding or ""):
        body = gzip.compress(body, compresslevel=6)
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    return 200, headers, b"" if method == "HEAD" else body


_REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}


def make_wsgi_app(
    registry: CollectorRegistry = REGISTRY, *, basic_auth: BasicAuth | None = None
) -> WSGIApplication:
    """A WSGI app serving ``GET /metrics`` (text or OpenMetrics by ``Accept``, gzip on request)."""
    check_multiprocess_dir()

    def metrics_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body = _metrics_response(
            registry,
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/"),
            environ.get("SCRIPT_NAME", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_ACCEPT"),
            environ.get("HTTP_ACCEPT_ENCODING"),
        )
        start_response(f"{status} {_REASONS[status]}", headers)
        return [body]

    return require_basic_auth(metrics_app, basic_auth) if basic_auth else metrics_app


def make_asgi_app(
    registry: CollectorRegistry = REGISTRY, *, basic_auth: BasicAuth | None = None
) -> ASGIApp:
    """An ASGI app serving ``GET /metrics``, like :func:`make_wsgi_app`.

    Rendering a large registry takes milliseconds, so under asyncio it runs in a worker
    thread rather than on the event loop.
    """
    check_multiprocess_dir()

    async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"metrics app serves http, not {scope['type']}")
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope.get("headers", ())
        }
        if basic_auth is not None and not basic_auth.check(headers.get("authorization")):
            status, response_headers, body = 401, list(_UNAUTHORIZED_HEADERS), _UNAUTHORIZED_BODY
        else:
            args = (
                registry,
                scope.get("method", "GET"),
                scope.get("path", "/"),
                scope.get("root_path", ""),
                scope.get("query_string", b"").decode("latin-1"),
                headers.get("accept"),
                headers.get("accept-encoding"),
            )
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # another event loop (trio, say): render inline
                status, response_headers, body = _metrics_response(*args)
            else:
                status, response_headers, body = await asyncio.to_thread(_metrics_response, *args)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in response_headers
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return metrics_app


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# --- the threaded server ----------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (a scrape every few seconds is noise), and a read timeout."""

    timeout = CONNECTION_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # Threads are daemons and are not joined on close (no list of them kept).
    block_on_close = False
    allow_reuse_address = True
    ssl_context: ssl.SSLContext | None = None

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can hang
        # for seconds where there is no resolver; the name only feeds SERVER_NAME.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs in the connection's own thread: the TLS handshake happens here, not in accept.
        if self.ssl_context is not None:
            request.settimeout(CONNECTION_TIMEOUT_S)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as error:
                log.debug("TLS handshake with %s failed: %s", client_address, error)
                return
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)
        request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanishes mid-response is routine; keep stderr clean, keep a trace.
        log.debug("error serving %s", client_address, exc_info=True)


class ServerHandle:
    """A running server: ``.host``, ``.port``, ``.url``; ``.shutdown()`` stops it (idempotent)."""

    def __init__(self, server: _ThreadingWSGIServer, thread: threading.Thread, scheme: str):
        self._server = server
        self._thread = thread
        self._lock = threading.Lock()
        self._stopped = False
        self.host: str = server.server_name
        self.port: int = server.server_port
        self.scheme = scheme

    @property
    def url(self) -> str:
        """Base URL, e.g. ``https://127.0.0.1:40123`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return not self._stopped and self._thread.is_alive()

    def shutdown(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ServerHandle {self.url} {state}>"


def serve_wsgi(
    app: WSGIApplication,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    tls: TLSConfig | None = None,
    basic_auth: BasicAuth | None = None,
) -> ServerHandle:
    """Serve a WSGI app from a daemon thread; port 0 picks a free port.

    Raises ``OSError`` (with the address in the message) when the port cannot be bound,
    and ``ValueError`` when the TLS files cannot be loaded.
    """
    context = tls.server_context() if tls is not None else None
    if basic_auth is not None:
        app = require_basic_auth(app, basic_auth)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("_Server", (_ThreadingWSGIServer,), {"address_family": family})
    try:
        server: _ThreadingWSGIServer = server_class((host, port), _QuietHandler)
    except OSError as error:
        raise OSError(error.errno, f"cannot listen on {host}:{port}: {error.strerror}") from None
    server.ssl_context = context
    server.set_app(app)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name=f"acgs-http-{server.server_port}",
        daemon=True,
    )
    thread.start()
    return ServerHandle(server, thread, "https" if context else "http")


def start_http_server(
    port: int = 0,
    host: str = "127.0.0.1",
    registry: CollectorRegistry = REGISTRY,
    *,
    tls: TLSConfig | None = None,
    basic_auth: BasicAuth | None = None,
) -> ServerHandle:
    """Serve ``/metrics`` for ``registry`` (see :func:`serve_wsgi`)."""
    return serve_wsgi(make_wsgi_app(registry), host, port, tls=tls, basic_auth=basic_auth)
