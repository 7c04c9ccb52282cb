"""HAProxy for the stack: the pieces every HAProxy we run is made of, written once.

- `ensure_pem_bundle`: the stack's server certificate and key in the one PEM file HAProxy's
  ``crt`` wants (0600, rewritten only when the certificate or key changed);
- `userlist` and `AUTH_RULE`: basic auth against crypt(3) hashes (the stack's bcrypt hash
  works: glibc's libxcrypt checks ``$2b$``); a plain password is refused;
- `tls_bind`, `tls_auth_front`, `http_backend`: a TLS listener behind that auth, and backends
  with health checks (optionally over TLS to servers of the stack, with credentials);
- `check_config` / `install_config`: ``haproxy -c -f`` on a candidate before it replaces a
  working file, in one rename;
- `haproxy_command` / `haproxy_spec`: master-worker in the foreground (``-W -db``), so it is a
  child the `ProcessManager` records; SIGUSR2 to the master (`reload`) reloads the file.

Used by the demo infrastructure (HAProxy on 8080 and its native Prometheus exporter, the TLS
front of redis_exporter) and by the HA query front.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from acgs_deploy.layout import StateLayout
from acgs_deploy.process import ProcessSpec
from acgs_deploy.secrets import write_private

__all__ = [
    "AUTH_RULE",
    "HAPROXY",
    "PEM_NAME",
    "Backend",
    "HAProxyConfigError",
    "basic_auth_header",
    "check_argv",
    "check_config",
    "ensure_pem_bundle",
    "global_section",
    "haproxy_command",
    "haproxy_spec",
    "http_backend",
    "install_config",
    "metrics_frontend",
    "pem_bundle",
    "reload",
    "tls_auth_front",
    "tls_bind",
    "userlist",
]

HAPROXY = "haproxy"
PEM_NAME = "haproxy.pem"
# crypt(3) hash prefixes HAProxy can check: bcrypt, yescrypt, SHA-512, SHA-256.
_CRYPT_PREFIXES = ("$2b$", "$2a$", "$2y$", "$y$", "$6$", "$5$")
# The forward-secret AEAD suites of web.yml.j2, in OpenSSL's names (TLS 1.2; 1.3 is all AEAD).
CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
# A basic-auth challenge unless the request carries credentials of the userlist `{0}`.
AUTH_RULE = 'http-request auth realm "ACGS monitoring" unless {{ http_auth({0}) }}'


class HAProxyConfigError(RuntimeError):
    """A configuration HAProxy refuses; names the file and HAProxy's own lines."""


@dataclass(frozen=True)
class Backend:
    """One server behind a frontend: `address` is host:port."""

    name: str
    address: str


def pem_bundle(cert: Path, key: Path, out: Path) -> bool:
    """Write `cert` then `key` into `out` (0600); returns True when `out` changed."""
    bundle = cert.read_bytes().rstrip(b"\n") + b"\n" + key.read_bytes()
    if out.is_file() and out.read_bytes() == bundle:
        return False
    write_private(out, bundle)
    return True


def ensure_pem_bundle(layout: StateLayout) -> Path:
    """``certs/haproxy.pem`` from the stack's server certificate and key (see `acgs_deploy.tls`),
    kept in step with them; call it after `ensure_certificates`."""
    out = layout.certs_dir / PEM_NAME
    pem_bundle(layout.server_cert, layout.server_key, out)
    return out


def userlist(name: str, users: Mapping[str, str]) -> str:
    """A ``userlist`` section; `users` maps user names to crypt(3) hashes, never passwords."""
    lines = [f"userlist {name}"]
    for user, hashed in users.items():
        if not hashed.startswith(_CRYPT_PREFIXES):
            raise ValueError(
                f"userlist {name}: the password of {user} is not a crypt(3) hash: give the "
                "bcrypt hash (PROMETHEUS_PASSWORD_HASH), never the password"
            )
        lines.append(f"  user {user} password {hashed}")
    return "\n".join(lines) + "\n"


def basic_auth_header(username: str, password: str) -> str:
    """The ``Authorization`` value a backend line sends to a server that wants basic auth
    (the file holding it must stay 0600, as every rendered file is)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def global_section(*, maxconn: int = 2048, admin_socket: Path | None = None) -> str:
    """``global`` and ``defaults``: HTTP mode, notices (not per-request lines) to stderr,
    which the process manager writes to the component's log, and the TLS policy; with
    `admin_socket`, the runtime API there (0600, admin level: `acgs_deploy.haproxy_runtime`)."""
    runtime = f"  stats socket {admin_socket} mode 600 level admin\n" if admin_socket else ""
    return (
        "global\n"
        f"  maxconn {maxconn}\n"
        f"{runtime}"
        "  log stderr format raw daemon notice\n"
        "  ssl-default-bind-options ssl-min-ver TLSv1.2\n"
        f"  ssl-default-bind-ciphers {CIPHERS}\n"
        "  ssl-default-server-options ssl-min-ver TLSv1.2\n"
        "\n"
        "defaults\n"
        "  mode http\n"
        "  log global\n"
        "  option dontlognull\n"
        "  timeout connect 2s\n"
        "  timeout client 30s\n"
        "  timeout server 30s\n"
        "  timeout http-request 10s\n"
    )


def tls_bind(listen: str, pem: Path) -> str:
    """A ``bind`` line serving TLS on `listen` (host:port, IPv6 in brackets) with `pem`."""
    return f"  bind {listen} ssl crt {pem} alpn http/1.1"


def metrics_frontend(name: str, listen: str, pem: Path, users: str) -> str:
    """HAProxy's native Prometheus exporter on ``/metrics`` behind TLS and the userlist
    `users`; any other path is 404."""
    return (
        f"frontend {name}\n{tls_bind(listen, pem)}\n"
        f"  {AUTH_RULE.format(users)}\n"
        "  http-request use-service prometheus-exporter if { path /metrics }\n"
        "  http-request return status 404\n"
    )


def tls_auth_front(name: str, listen: str, pem: Path, users: str, backend: str) -> str:
    """A frontend serving TLS on `listen` that lets through only requests with credentials of
    the userlist `users`, to `backend` (a TLS and auth front for a plain-HTTP server)."""
    return (
        f"frontend {name}\n{tls_bind(listen, pem)}\n"
        f"  {AUTH_RULE.format(users)}\n"
        "  http-request del-header Authorization\n"
        f"  default_backend {backend}\n"
    )


def http_backend(
    name: str,
    servers: Iterable[Backend],
    *,
    health_path: str,
    ca_file: Path | None = None,
    authorization: str | None = None,
    balance: str = "roundrobin",
    extra: Sequence[str] = (),
) -> str:
    """A backend checking ``GET health_path`` on each server (2 failures: down, 2 passes: up).

    `ca_file`: the servers speak TLS and must present a certificate it signed.
    `authorization`: sent to the servers on requests and checks (`basic_auth_header`).
    `extra`: more lines for the section (``http-request replace-path ...``).
    """
    lines = [
        f"backend {name}",
        f"  balance {balance}",
        "  option httpchk",
        f"  http-check send meth GET uri {health_path}"
        + (f' hdr Authorization "{authorization}"' if authorization else ""),
        "  http-check expect status 200",
    ]
    if authorization:
        lines.append(f'  http-request set-header Authorization "{authorization}"')
    lines += [f"  {line}" for line in extra]
    tls = f" ssl verify required ca-file {ca_file}" if ca_file else ""
    lines += [
        f"  server {server.name} {server.address} check inter 2s fall 2 rise 2{tls}"
        for server in servers
    ]
    return "\n".join(lines) + "\n"


def check_argv(path: Path) -> list[str]:
    """The command that checks the configuration at `path` (quiet: only problems print)."""
    return [HAPROXY, "-c", "-q", "-f", str(path)]


def check_config(path: Path) -> None:
    """``haproxy -c -f path``; `HAProxyConfigError` with HAProxy's alerts when it refuses."""
    try:
        done = subprocess.run(
            check_argv(path),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        raise HAProxyConfigError(f"{path}: haproxy not found; run `invoke install-deps`") from None
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        raise HAProxyConfigError(f"haproxy -c -f {path} failed:\n  " + "\n  ".join(lines))


def install_config(text: str, live: Path) -> bool:
    """Make `text` the configuration at `live` once ``haproxy -c`` accepts it; a refused one
    leaves the working file as it was. Returns True when `live` changed."""
    if live.is_file() and live.read_text() == text:
        return False
    candidate = live.with_name(f".{live.name}.{os.getpid()}.candidate")
    write_private(candidate, text)
    try:
        check_config(candidate)
        os.replace(candidate, live)
    finally:
        candidate.unlink(missing_ok=True)
    return True


def haproxy_command(config: Path, extra: Sequence[str] = ()) -> list[str]:
    """argv of HAProxy reading `config`, master-worker in the foreground."""
    return [HAPROXY, "-W", "-db", "-f", str(config), *extra]


def haproxy_spec(name: str, config: Path, extra: Sequence[str] = ()) -> ProcessSpec:
    """The process of one HAProxy named `name` (its pid file and log go by that name)."""
    return ProcessSpec(name, haproxy_command(config, extra))


def reload(pid: int) -> None:
    """Ask the master process `pid` to re-read its file (new workers; old ones finish)."""
    os.kill(pid, signal.SIGUSR2)
