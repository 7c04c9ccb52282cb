"""The harness itself: servers start behind their web config and are always stopped; waits
time out naming what they waited for; the test CA signs what it says."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from acgs_testkit.ca import Certs
from acgs_testkit.load import NO_ANSWER, query_load
from acgs_testkit.ports import free_port
from acgs_testkit.servers import WebAuth, alertmanager, node_exporter, prometheus
from acgs_testkit.waiting import ServerExited, poll, stop_process, wait_for, wait_ready


def test_a_server_behind_tls_and_auth_is_stopped_on_the_way_out(
    tmp_path: Path, certs: Certs
) -> None:
    auth = WebAuth(certs.server_cert, certs.server_key, certs.ca, "tester", "a password")
    with prometheus(tmp_path / "prom", auth=auth) as server:
        assert server.url.startswith("https://127.0.0.1:")
        with server.client() as client:
            assert client.get("/-/ready").status_code == 200
        wrong = httpx.get(f"{server.url}/-/ready", verify=auth.ssl_context(), timeout=5)
        assert wrong.status_code == 401
        pid = server.pid
    assert not server.running
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_exporter_and_alertmanager_behind_tls_and_auth(tmp_path: Path, certs: Certs) -> None:
    auth = WebAuth(certs.server_cert, certs.server_key, certs.ca, "tester", "a password")
    with (
        node_exporter(tmp_path / "node", auth=auth) as node,
        alertmanager(tmp_path / "am", auth=auth) as am,
    ):
        for server, path in ((node, "/metrics"), (am, "/-/ready")):
            assert "--web.config.file=" + str(server.log.parent / "web.yml") in server.argv
            with server.client() as client:
                assert client.get(path).status_code == 200
            bare = httpx.get(server.url + path, verify=auth.ssl_context(), timeout=5)
            assert bare.status_code == 401
            with pytest.raises(httpx.ConnectError):
                httpx.get(server.url + path, timeout=5)  # the system CAs do not trust it


def test_a_server_that_exits_says_why(tmp_path: Path) -> None:
    broken = alertmanager(tmp_path / "am", "route: {receiver: nobody}\n")
    with pytest.raises(RuntimeError, match=r"(?s)exited: .*undefined receiver .*nobody"):
        broken.start()
    assert not broken.running


def test_wait_for_returns_the_value_or_names_what_it_waited_for() -> None:
    values = iter([None, 0, "ready"])
    assert wait_for(lambda: next(values), 5, every_s=0) == "ready"
    with pytest.raises(AssertionError, match=r"waiting for the moon \(last: False\)"):
        wait_for(lambda: False, 0.2, "the moon", every_s=0.05)


def test_poll_gives_the_last_value_when_time_runs_out() -> None:
    values = iter(range(100))
    assert poll(lambda: next(values), lambda v: v == 3, 5, every_s=0) == 3
    assert poll(lambda: [1], lambda v: len(v) > 1, 0.1, every_s=0.02) == [1]


def test_wait_ready_fails_at_once_with_the_log_when_the_process_exits(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "print('bad flag'); raise SystemExit(3)"], stdout=out
        )
    started = time.monotonic()
    with (
        httpx.Client(base_url=f"http://127.0.0.1:{free_port()}") as client,
        pytest.raises(ServerExited, match=r"demo exited: bad flag"),
    ):
        wait_ready(client, "/", process=process, log=log, timeout_s=30, what="demo")
    assert time.monotonic() - started < 10


def test_stop_process_kills_what_ignores_sigterm() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time\n"
         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert stubborn.stdout is not None
    assert stubborn.stdout.readline() == b"up\n"
    assert stop_process(stubborn, timeout_s=0.5) == -9


def test_the_ca_signs_the_server_and_client_certificates_only(certs: Certs) -> None:
    ca = x509.load_pem_x509_certificate(certs.ca.read_bytes())
    other = x509.load_pem_x509_certificate(certs.other_ca.read_bytes())
    for path in (certs.server_cert, certs.client_cert):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.verify_directly_issued_by(ca)
        with pytest.raises(ValueError, match="does not match"):
            cert.verify_directly_issued_by(other)
    assert certs.server_key.stat().st_mode & 0o777 == 0o600


def test_query_load_outlives_a_prometheus_that_does_not_answer() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with query_load(lambda: httpx.Client(base_url=nobody, timeout=1), "up", workers=2) as statuses:
        wait_for(lambda: len(statuses) >= 6, 10, "several unanswered queries")
    assert set(statuses) == {NO_ANSWER}
