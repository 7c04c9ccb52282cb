"""A throwaway CA for tests: server and client certificates, and a CA that signed neither.

Built with acgs-deploy's certificate builder (:mod:`acgs_deploy.tls`), the one the stack uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acgs_deploy.tls import issue_certificate, new_ca, write_certificate, write_key

__all__ = ["Certs", "make_certs"]


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path  # for localhost and 127.0.0.1
    server_key: Path
    client_cert: Path  # for mutual TLS
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: clients trusting only it must fail


def make_certs(out: Path, days: int = 1) -> Certs:
    """Write a CA, a server and a client certificate (valid ``days``) and an unrelated CA."""
    out.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = new_ca("acgs-test-ca", days=days)
    server_key, server_cert = issue_certificate(
        ca_cert, ca_key, dns=["localhost"], ips=["127.0.0.1"], days=days
    )
    client_key, client_cert = issue_certificate(
        ca_cert, ca_key, common_name="scraper", client=True, days=days
    )
    _, other_cert = new_ca("unrelated-ca", days=days)
    certs = Certs(
        ca=out / "ca.crt",
        server_cert=out / "server.crt",
        server_key=out / "server.key",
        client_cert=out / "client.crt",
        client_key=out / "client.key",
        other_ca=out / "other-ca.crt",
    )
    write_certificate(certs.ca, ca_cert)
    write_certificate(certs.server_cert, server_cert)
    write_key(certs.server_key, server_key)
    write_certificate(certs.client_cert, client_cert)
    write_key(certs.client_key, client_key)
    write_certificate(certs.other_ca, other_cert)
    return certs
