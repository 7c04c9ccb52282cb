from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import stat
from pathlib import Path

import pytest
from cryptography import x509

from acgs_deploy.settings import StackSettings
from acgs_deploy.tls import TLSError, ensure_certificates

from .conftest import IssueCertificate


def _sans(path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(sans.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return dns, ips


def test_local_ca_and_server_certificate(tmp_path: Path) -> None:
    settings = StackSettings.load(tmp_path)
    info = ensure_certificates(settings)
    assert info.changed
    assert not info.user_supplied
    dns, ips = _sans(info.server_cert)
    assert {"localhost", socket.gethostname()} <= dns
    assert {"127.0.0.1", "::1"} <= ips
    for key in (settings.layout.ca_key, info.server_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(info.server_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(info.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert info.not_after - dt.datetime.now(dt.UTC) > dt.timedelta(days=300)


def test_second_run_keeps_certificates(tmp_path: Path) -> None:
    settings = StackSettings.load(tmp_path)
    first = ensure_certificates(settings)
    before = first.server_cert.read_bytes()
    second = ensure_certificates(settings)
    assert not second.changed
    assert second.server_cert.read_bytes() == before


def test_new_listen_address_reissues_server_cert_with_same_ca(tmp_path: Path) -> None:
    ensure_certificates(StackSettings.load(tmp_path))
    ca_before = (tmp_path / "certs" / "ca.crt").read_bytes()
    info = ensure_certificates(StackSettings.load(tmp_path, host="127.0.0.2"))
    assert info.changed
    assert "127.0.0.2" in _sans(info.server_cert)[1]
    assert info.ca_cert.read_bytes() == ca_before
    ipaddress.ip_address("127.0.0.2")


def test_user_supplied_certificates(tmp_path: Path) -> None:
    # A "corporate" CA made elsewhere stands in for the user's PKI.
    issued = ensure_certificates(StackSettings.load(tmp_path / "pki"))
    settings = StackSettings.load(
        tmp_path / "state",
        tls_cert_file=issued.server_cert,
        tls_key_file=issued.server_key,
        tls_ca_file=issued.ca_cert,
    )
    info = ensure_certificates(settings)
    assert info.user_supplied
    assert info.server_cert.read_bytes() == issued.server_cert.read_bytes()
    assert stat.S_IMODE(info.server_key.stat().st_mode) == 0o600
    assert not (tmp_path / "state" / "certs" / "ca.key").exists()


def test_user_supplied_mismatch_is_refused(tmp_path: Path) -> None:
    one = ensure_certificates(StackSettings.load(tmp_path / "one"))
    two = ensure_certificates(StackSettings.load(tmp_path / "two"))
    settings = StackSettings.load(
        tmp_path / "s",
        tls_cert_file=one.server_cert,
        tls_key_file=two.server_key,
        tls_ca_file=one.ca_cert,
    )
    with pytest.raises(TLSError, match="does not belong"):
        ensure_certificates(settings)
    settings = StackSettings.load(
        tmp_path / "s",
        tls_cert_file=one.server_cert,
        tls_key_file=one.server_key,
        tls_ca_file=two.ca_cert,
    )
    with pytest.raises(TLSError, match="not signed by the CA"):
        ensure_certificates(settings)
    with pytest.raises(TLSError, match="missing: tls_key_file, tls_ca_file"):
        ensure_certificates(StackSettings.load(tmp_path / "s", tls_cert_file=one.server_cert))


def test_user_certificate_must_name_the_connect_host(
    tmp_path: Path, issue_certificate: IssueCertificate
) -> None:
    files = issue_certificate("named", ["acgs.example.org"], ["10.1.2.3"])
    with pytest.raises(TLSError) as caught:
        ensure_certificates(StackSettings.load(tmp_path / "s1", **files))
    message = str(caught.value)
    assert "do not include 127.0.0.1" in message
    assert "(acgs.example.org, 10.1.2.3)" in message
    assert not (tmp_path / "s1" / "certs" / "server.crt").exists()  # nothing adopted
    for host in ("acgs.example.org", "ACGS.example.org", "10.1.2.3"):
        assert ensure_certificates(StackSettings.load(tmp_path / host, host=host, **files))


def test_user_certificate_wildcard_covers_one_label(
    tmp_path: Path, issue_certificate: IssueCertificate
) -> None:
    files = issue_certificate("wild", ["*.example.org"], [])
    assert ensure_certificates(StackSettings.load(tmp_path / "a", host="acgs.example.org", **files))
    with pytest.raises(TLSError, match=r"do not include a\.b\.example\.org"):
        ensure_certificates(StackSettings.load(tmp_path / "b", host="a.b.example.org", **files))
