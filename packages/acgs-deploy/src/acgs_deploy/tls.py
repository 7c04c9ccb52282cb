"""TLS for the stack: a local CA and a server certificate, or the user's CA-signed pair.

The local CA (10 years) signs a server certificate (1 year) with SANs for localhost,
127.0.0.1, ::1, the host name and the listen address. Later deploys keep both and renew the
server certificate only when it nears expiry or lacks a name. Topology ha adds a client
certificate for the Alertmanager peers' mutual TLS on their gossip port. Keys are 0600.
A user-supplied certificate, key and CA are checked (the key matches, the CA signed it) and
copied into ``<state>/certs`` under the same names, so clients always trust ``certs/ca.crt``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from acgs_deploy.layout import StateLayout
from acgs_deploy.secrets import write_private
from acgs_deploy.settings import StackSettings

__all__ = [
    "CertificateInfo",
    "TLSError",
    "certificate_expiry",
    "describe_sans",
    "ensure_certificates",
    "issue_certificate",
    "new_ca",
    "san_names",
    "uncovered",
    "write_certificate",
    "write_key",
]

CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=30)
COMPOSE_SERVICE_NAMES = ("prometheus", "alertmanager", "node-exporter", "grafana")


class TLSError(RuntimeError):
    """Certificates that cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class CertificateInfo:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    not_after: dt.datetime
    user_supplied: bool
    changed: bool


def certificate_expiry(path: Path) -> dt.datetime:
    """When the certificate at ``path`` expires (UTC); for the health check."""
    return _load_cert(path).not_valid_after_utc


def server_names(settings: StackSettings) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) the server certificate must cover."""
    # The compose services reach each other by service name.
    dns = {"localhost", socket.gethostname(), *COMPOSE_SERVICE_NAMES}
    ips = {"127.0.0.1", "::1"}
    for host in (settings.host, settings.connect_host):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            dns.add(host)
        else:
            if not address.is_unspecified:
                ips.add(str(address))
    return sorted(dns), sorted(ips)


def ensure_certificates(settings: StackSettings) -> CertificateInfo:
    layout = settings.layout
    layout.certs_dir.mkdir(parents=True, exist_ok=True)
    if settings.tls_cert_file or settings.tls_key_file or settings.tls_ca_file:
        return _adopt_user_certificates(settings, layout)
    changed = False
    if not (layout.ca_cert.is_file() and layout.ca_key.is_file()):
        _make_ca(layout)
        changed = True
    ca_cert = _load_cert(layout.ca_cert)
    ca_key = _load_key(layout.ca_key)
    dns, ips = server_names(settings)
    if changed or _needs_new_server_cert(layout, ca_cert, dns, ips):
        _make_server_cert(layout, ca_cert, ca_key, dns, ips)
        changed = True
    if settings.topology == "ha" and (changed or _needs_new_peer_cert(layout, ca_cert)):
        # The Alertmanager peers' client certificate for mutual TLS on the gossip port.
        key, cert = issue_certificate(ca_cert, ca_key, common_name="acgs-peer", client=True)
        write_key(layout.peer_key, key)
        write_certificate(layout.peer_cert, cert)
    return CertificateInfo(
        ca_cert=layout.ca_cert,
        server_cert=layout.server_cert,
        server_key=layout.server_key,
        not_after=certificate_expiry(layout.server_cert),
        user_supplied=False,
        changed=changed,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


CAKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
KeyPair = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


def new_ca(
    common_name: str, days: int = CA_DAYS
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA (EC P-256) valid from five minutes ago for ``days``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_certificate(
    ca_cert: x509.Certificate,
    ca_key: CAKey,
    *,
    common_name: str = "localhost",
    dns: Iterable[str] = (),
    ips: Iterable[str] = (),
    client: bool = False,
    days: int = SERVER_DAYS,
) -> KeyPair:
    """A certificate signed by the CA: for a server with the given SANs, or (``client``) for
    a client that authenticates with it (mutual TLS)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """The private key as unencrypted PKCS#8 PEM, 0600 from the start."""
    write_private(
        path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def write_certificate(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _make_ca(layout: StateLayout) -> None:
    key, cert = new_ca("ACGS monitoring local CA")
    write_key(layout.ca_key, key)
    write_certificate(layout.ca_cert, cert)


def _make_server_cert(
    layout: StateLayout, ca_cert: x509.Certificate, ca_key: CAKey, dns: list[str], ips: list[str]
) -> None:
    key, cert = issue_certificate(ca_cert, ca_key, dns=dns, ips=ips)
    write_key(layout.server_key, key)
    write_certificate(layout.server_cert, cert)


def _needs_new_server_cert(
    layout: StateLayout, ca_cert: x509.Certificate, dns: list[str], ips: list[str]
) -> bool:
    if not (layout.server_cert.is_file() and layout.server_key.is_file()):
        return True
    cert = _load_cert(layout.server_cert)
    if cert.not_valid_after_utc - _now() < RENEW_BEFORE or cert.issuer != ca_cert.subject:
        return True
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    have_dns = set(sans.get_values_for_type(x509.DNSName))
    have_ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return not (set(dns) <= have_dns and set(ips) <= have_ips)


def _needs_new_peer_cert(layout: StateLayout, ca_cert: x509.Certificate) -> bool:
    if not (layout.peer_cert.is_file() and layout.peer_key.is_file()):
        return True
    cert = _load_cert(layout.peer_cert)
    return cert.not_valid_after_utc - _now() < RENEW_BEFORE or cert.issuer != ca_cert.subject


def _adopt_user_certificates(settings: StackSettings, layout: StateLayout) -> CertificateInfo:
    given = {
        "tls_cert_file": settings.tls_cert_file,
        "tls_key_file": settings.tls_key_file,
        "tls_ca_file": settings.tls_ca_file,
    }
    absent = [name for name, path in given.items() if path is None]
    if absent:
        raise TLSError(
            f"a user-supplied certificate needs all of tls_cert_file, tls_key_file and "
            f"tls_ca_file; missing: {', '.join(absent)}"
        )
    cert_path, key_path, ca_path = (Path(p) for p in given.values() if p is not None)
    cert = _load_cert(cert_path)
    key = _load_key(key_path)
    ca = _load_cert(ca_path)
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise TLSError(f"{key_path}: this key does not belong to the certificate {cert_path}")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise TLSError(
            f"{cert_path}: not signed by the CA in {ca_path}; give the CA that issued it"
        ) from None
    if cert.not_valid_after_utc <= _now():
        raise TLSError(f"{cert_path}: expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    host = settings.connect_host
    if uncovered(cert_path, [host]):
        raise TLSError(
            f"{cert_path}: its subject alternative names ({describe_sans(cert_path)}) do not "
            f"include {host}, where clients and scrapes connect (the host setting): have it "
            f"issued with {host} as a SAN, or set host to an address it names"
        )
    targets = {cert_path: layout.server_cert, ca_path: layout.ca_cert}
    changed = False
    for source, target in targets.items():
        if not target.is_file() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
            changed = True
    key_bytes = key_path.read_bytes()
    if not layout.server_key.is_file() or layout.server_key.read_bytes() != key_bytes:
        write_private(layout.server_key, key_bytes)
        changed = True
    return CertificateInfo(
        ca_cert=layout.ca_cert,
        server_cert=layout.server_cert,
        server_key=layout.server_key,
        not_after=cert.not_valid_after_utc,
        user_supplied=True,
        changed=changed,
    )


def san_names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) in a certificate's subject alternative names."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    ips = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    return list(sans.get_values_for_type(x509.DNSName)), ips


def uncovered(cert_path: Path, hosts: Iterable[str]) -> list[str]:
    """The hosts TLS clients would refuse ``cert_path`` for (SANs only, as Go checks)."""
    dns, ips = san_names(_load_cert(cert_path))
    return [host for host in hosts if not _covers(dns, ips, host)]


def _covers(dns: list[str], ips: list[str], host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        wanted = host.rstrip(".").lower()
        for name in (n.lower() for n in dns):
            if name == wanted:
                return True
            # A wildcard stands for exactly one leftmost label.
            if name.startswith("*.") and wanted.partition(".")[2] == name[2:]:
                return True
        return False
    return any(ipaddress.ip_address(ip) == address for ip in ips)


def describe_sans(cert_path: Path) -> str:
    dns, ips = san_names(_load_cert(cert_path))
    return ", ".join([*dns, *ips]) or "none"


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as error:
        raise TLSError(f"{path}: cannot read the certificate: {error.strerror}") from None
    except ValueError:
        raise TLSError(f"{path}: not a PEM certificate") from None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise TLSError(f"{path}: cannot read the key: {error.strerror}") from None
    except (ValueError, TypeError):
        raise TLSError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TLSError(f"{path}: only EC and RSA keys are supported")
    return key
