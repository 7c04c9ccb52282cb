"""Real TLS handshakes with a chosen protocol version and cipher list, to check what a server
accepts (python ``ssl``, so no ``openssl s_client`` is needed).

    version, cipher = handshake(port, ca, CBC_ONLY)  # ssl.SSLError when the server refuses
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

__all__ = ["AEAD_TLS12", "CBC_ONLY", "REFUSED", "handshake"]

# OpenSSL cipher strings for a TLS 1.2 client: every AES-CBC suite (ECDHE, DHE and static
# RSA key exchange, SHA-1 and SHA-2 MACs), and the forward-secret AEAD suites.
CBC_ONLY = "AES:!AESGCM:!AESCCM:!aNULL:!PSK:!SRP:@SECLEVEL=0"
AEAD_TLS12 = {"aes-gcm": "ECDHE+AESGCM", "chacha20": "ECDHE+CHACHA20"}
# What the client's ssl.SSLError says when the server shares none of its suites.
REFUSED = r"HANDSHAKE_FAILURE|NO_SHARED_CIPHER"


def handshake(
    port: int,
    ca: Path,
    ciphers: str | None = None,
    *,
    tls12: bool = True,
    host: str = "127.0.0.1",
) -> tuple[str, str]:
    """Connect, finish a handshake as TLS 1.2 with ``ciphers`` (``tls12=False``: the client's
    defaults, TLS 1.3 included) and return (protocol version, cipher name).
    Raises :class:`ssl.SSLError` when the server refuses every offered suite."""
    context = ssl.create_default_context(cafile=str(ca))
    if tls12:
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers is not None:
        context.set_ciphers(ciphers)
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        cipher = tls.cipher()
        version = tls.version()
        assert cipher is not None
        assert version is not None
        return version, cipher[0]
