"""HAProxy's runtime API, over the admin socket its configuration opens (``stats socket ...
level admin``): the state of every server, and putting one in maintenance and back. A rolling
restart drains a server of the query endpoint this way before stopping it, so no query meets
it going down, and waits until HAProxy's own checks mark it up again before the next.
"""

from __future__ import annotations

import csv
import io
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from acgs_deploy.errors import DeployError

__all__ = ["ServerStat", "admin_socket", "run", "server_stats", "set_state"]

TIMEOUT_S = 5.0
State = Literal["ready", "drain", "maint"]


@dataclass(frozen=True)
class ServerStat:
    """One server of a backend as ``show stat`` gives it."""

    backend: str
    name: str
    address: str  # host:port, as the configuration names it
    status: str  # UP, DOWN, MAINT, NOLB, "UP 1/2" (going down), "DOWN 1/2" (coming up) ...
    sessions: int  # open now

    @property
    def up(self) -> bool:
        return self.status == "UP"


def admin_socket(run_dir: Path, name: str) -> Path:
    """Where the HAProxy called `name` opens its admin socket (its configuration says so)."""
    return run_dir / f"{name}.sock"


def run(admin_socket: Path, command: str) -> str:
    """Send one runtime command; HAProxy's answer. DeployError when the socket does not
    answer (HAProxy is not running, or its configuration opens no admin socket)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(TIMEOUT_S)
            connection.connect(str(admin_socket))
            connection.sendall(f"{command}\n".encode())
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
    except OSError as error:
        raise DeployError(
            f"HAProxy's admin socket {admin_socket} did not answer ({error}): is the query "
            "endpoint running? (invoke status)"
        ) from None
    return b"".join(chunks).decode(errors="replace")


def server_stats(admin_socket: Path) -> list[ServerStat]:
    """Every server of every backend (not the FRONTEND and BACKEND rows)."""
    text = run(admin_socket, "show stat").lstrip("# ")
    found = []
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("svname") in (None, "FRONTEND", "BACKEND"):
            continue
        found.append(
            ServerStat(
                backend=row["pxname"],
                name=row["svname"],
                address=row.get("addr") or "",
                status=row.get("status") or "",
                sessions=int(row.get("scur") or 0),
            )
        )
    return found


def set_state(admin_socket: Path, server: ServerStat, state: State) -> None:
    """Put `server` in `state`: maint (no new requests; open ones finish), drain, or ready
    (back in service once its health checks pass)."""
    answer = run(admin_socket, f"set server {server.backend}/{server.name} state {state}")
    if answer.strip():
        raise DeployError(f"HAProxy refused to set {server.name} {state}: {answer.strip()}")
