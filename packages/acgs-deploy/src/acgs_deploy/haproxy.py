"""What every HAProxy of the toolkit shares (Debian's haproxy 2.6): the PEM bundle its TLS
listener reads, the userlist that checks basic auth against the stack's bcrypt hash, the
Authorization header its health checks send, ``haproxy -c`` validation and the command line.

The stack's query endpoint (``configs/haproxy-query.cfg.j2``) is built from these; so is any
other HAProxy the toolkit runs.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from acgs_deploy.commandlines import HAPROXY, haproxy_command
from acgs_deploy.process import ProcessSpec
from acgs_deploy.secrets import write_private

__all__ = [
    "USERLIST",
    "authorization",
    "check_config",
    "pem_bundle",
    "process_spec",
    "userlist",
]

# The userlist name the configurations' `http_auth(...)` refers to.
USERLIST = "acgs_users"


def pem_bundle(cert: Path, key: Path, out: Path) -> bool:
    """Write `cert` then `key` into `out` (0600), HAProxy's ``crt`` format; True when the
    bundle was new or changed (the HAProxy reading it must restart)."""
    text = cert.read_text() + key.read_text()
    if out.is_file() and out.read_text() == text:
        return False
    write_private(out, text)
    return True


def userlist(username: str, password_hash: str) -> str:
    """A ``userlist`` section with one user; HAProxy checks the bcrypt hash with crypt(3).
    The hash is the stack's (cost 4: checked on every request, so kept cheap; the password
    itself is 32 random bytes, see acgs_deploy.secrets)."""
    return f"userlist {USERLIST}\n  user {username} password {password_hash}\n"


def authorization(username: str, password: str) -> str:
    """The ``Authorization`` header value of a health check that must pass basic auth. It is
    as secret as the password: only in 0600 files."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def check_config(config: Path) -> str | None:
    """``haproxy -c`` on `config`: None when valid, else the problem (HAProxy's alerts)."""
    try:
        done = subprocess.run(
            [HAPROXY, "-c", "-f", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except FileNotFoundError:
        return f"haproxy -c: {HAPROXY} not found; run `invoke install-deps`"
    if done.returncode == 0:
        return None
    lines = (done.stdout + done.stderr).strip().splitlines()
    alerts = [line for line in lines if "ALERT" in line] or lines
    return "haproxy -c:\n  " + "\n  ".join(alerts[-10:])


def process_spec(name: str, config: Path) -> ProcessSpec:
    """The process of an HAProxy called `name` on `config`, in the foreground."""
    return ProcessSpec(name, haproxy_command(config=config))
