"""The rendered web config's TLS, by real handshakes against real Prometheus, Alertmanager and
node_exporter: TLS 1.2 offers only forward-secret AEAD suites, TLS 1.3 is untouched."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest
import yaml

from acgs_deploy.render import web_config
from acgs_testkit.ca import Certs
from acgs_testkit.handshake import AEAD_TLS12, CBC_ONLY, REFUSED, handshake
from acgs_testkit.servers import Server, WebAuth, alertmanager, node_exporter, prometheus

STARTERS: dict[str, Callable[..., Server]] = {
    "prometheus": prometheus,
    "alertmanager": alertmanager,
    "node_exporter": node_exporter,
}


@pytest.fixture(scope="module", params=sorted(STARTERS))
def server(
    request: pytest.FixtureRequest, certs: Certs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    auth = WebAuth(certs.server_cert, certs.server_key, certs.ca, "acgs_monitor", "right-pass")
    with STARTERS[request.param](tmp_path_factory.mktemp(request.param), auth=auth) as started:
        yield started


def test_tls12_with_cbc_suites_only_is_refused(server: Server, certs: Certs) -> None:
    with pytest.raises(ssl.SSLError, match=REFUSED):
        handshake(server.port, certs.ca, CBC_ONLY)


@pytest.mark.parametrize("kind", sorted(AEAD_TLS12))
def test_tls12_with_an_aead_suite_is_accepted(server: Server, certs: Certs, kind: str) -> None:
    version, cipher = handshake(server.port, certs.ca, AEAD_TLS12[kind])
    assert version == "TLSv1.2"
    assert cipher.startswith("ECDHE-ECDSA-")
    assert ("GCM" if kind == "aes-gcm" else "CHACHA20") in cipher


def test_tls13_is_still_offered(server: Server, certs: Certs) -> None:
    version, _ = handshake(server.port, certs.ca, tls12=False)
    assert version == "TLSv1.3"


def test_the_suites_still_serve_requests(server: Server) -> None:
    with server.client() as client:
        assert client.get("/metrics").status_code == 200


def test_rendered_web_config_passes_promtool(tmp_path: Path, certs: Certs) -> None:
    hashed = bcrypt.hashpw(b"right-pass", bcrypt.gensalt(rounds=4)).decode()
    path = tmp_path / "web.yml"
    path.write_text(
        web_config("acgs_monitor", hashed, str(certs.server_cert), str(certs.server_key))
    )
    suites = yaml.safe_load(path.read_text())["tls_server_config"]["cipher_suites"]
    assert suites
    assert all(s.startswith("TLS_ECDHE_") for s in suites)
    assert all("_GCM_" in s or "_CHACHA20_POLY1305_" in s for s in suites)
    checked = subprocess.run(
        ["promtool", "check", "web-config", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
