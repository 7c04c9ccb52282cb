"""acgs_testkit.ports: the one free-port helper the toolkit's tests and benchmarks use."""

from __future__ import annotations

import socket

import pytest

from acgs_testkit.ports import (
    GUIDE_PORTS,
    free_port,
    free_port_block,
    free_stack_ports,
    ports_free,
)


def test_free_port_can_be_bound() -> None:
    port = free_port()
    assert port not in GUIDE_PORTS
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_block_is_free_consecutive_and_avoids_the_guides_ports() -> None:
    base = free_port_block(12)
    block = range(base, base + 12)
    assert GUIDE_PORTS.isdisjoint(block)
    assert base + 12 <= 32768  # below the kernel's ephemeral range
    held = []
    try:
        for port in block:
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", port))
    finally:
        for sock in held:
            sock.close()


def test_an_empty_block_is_refused() -> None:
    with pytest.raises(ValueError, match="size must be at least 1"):
        free_port_block(0)


def test_a_stack_gets_one_free_block_in_the_settings_order() -> None:
    ports = free_stack_ports()
    base = ports["sim_base_port"]
    assert ports["prometheus_port"] == base + 7
    assert ports["webhook_port"] == base + 11
    assert ports_free(range(base, base + 12))


def test_a_listening_port_is_not_free() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not ports_free([port])
        assert not ports_free([free_port(), port])
    assert ports_free([port])


def test_an_ipv6_listener_is_seen_on_an_ipv6_host() -> None:
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not ports_free([port], "::1")
    assert ports_free([port], "::1")
