"""The ``acgs-sim`` command line: start/stop, the fault client, TLS and basic auth, bad input."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from acgs_metrics import SERVICE_NAMES
from acgs_testkit.ca import Certs
from acgs_testkit.handshake import AEAD_TLS12, CBC_ONLY, REFUSED, handshake
from acgs_testkit.ports import free_port, ports_free
from acgs_testkit.sim import ACGS_SIM, SimProcess, free_base_port
from acgs_testkit.waiting import stop_process, wait_ready


def acgs_sim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ACGS_SIM), *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_sigterm_stops_cleanly_and_frees_ports(run_sim: type[SimProcess]) -> None:
    sim = run_sim(free_base_port(), services=["gs", "pgc"])
    sim.start()
    ports = [sim.port(name) for name in SERVICE_NAMES]
    # Only the chosen services listen, each on base port + its index.
    assert [ports_free([p]) for p in ports] == [True] * 4 + [False, False] + [True]
    started = time.monotonic()
    assert sim.terminate() == 0
    assert time.monotonic() - started < 10
    assert ports_free(ports)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url('gs')}/health", timeout=2)
    out, _ = sim.output()
    assert "acgs-sim: stopped" in out


def test_ctrl_c_stops_cleanly(run_sim: type[SimProcess]) -> None:
    sim = run_sim(free_base_port(), services=["auth"])
    sim.start()
    assert sim.process is not None
    sim.process.send_signal(signal.SIGINT)
    assert sim.process.wait(timeout=10) == 0
    assert ports_free([sim.port("auth")])


def test_sigterm_releases_requests_held_by_unresponsive(run_sim: type[SimProcess]) -> None:
    sim = run_sim(free_base_port(), services=["ec"])
    sim.start()
    with httpx.Client(timeout=2) as client:
        url = sim.url("ec")
        client.post(f"{url}/control/faults", json={"fault": "unresponsive", "value": 600})
        with pytest.raises(httpx.TimeoutException):
            client.get(f"{url}/metrics", timeout=0.5)
    started = time.monotonic()
    assert sim.terminate() == 0
    assert time.monotonic() - started < 10


def test_fault_command(run_sim: type[SimProcess]) -> None:
    sim = run_sim(free_base_port(), services=["gs"])
    sim.start()
    port = str(sim.port("gs"))
    result = acgs_sim(
        "fault", "--port", port, "slow_synthesis", "--value", "12", "--duration", "60"
    )
    assert result.returncode == 0, result.stderr
    assert "slow_synthesis" in result.stdout
    listed = acgs_sim("fault", "--port", port, "--list")
    assert listed.returncode == 0
    assert "slow_synthesis" in listed.stdout
    assert "12.0" in listed.stdout
    faults = httpx.get(f"{sim.url('gs')}/control/faults").json()
    assert [(f["fault"], f["value"], f["duration_s"]) for f in faults] == [
        ("slow_synthesis", 12.0, 60.0)
    ]
    refused = acgs_sim("fault", "--port", port, "error_rate", "--value", "3")
    assert refused.returncode == 1
    assert "between 0 and 1" in refused.stdout + refused.stderr
    cleared = acgs_sim("fault", "--port", port, "--clear")
    assert cleared.returncode == 0
    assert "cleared 1 fault(s)" in cleared.stdout
    assert httpx.get(f"{sim.url('gs')}/control/faults").json() == []


def test_fault_command_when_nothing_listens() -> None:
    port = free_port()
    result = acgs_sim("fault", "--port", str(port), "--clear")
    assert result.returncode == 1
    assert f"cannot reach http://127.0.0.1:{port}" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fault", "--port", "1"], "name a fault to inject, or give --clear or --list"),
        (["fault", "--port", "1", "--clear", "error_rate"], "take no fault name"),
        (["fault", "--port", "1", "meltdown"], "invalid choice: 'meltdown'"),
        (["--services", "gs,nope", "--base-port", "20000"], "unknown service(s) nope"),
        (["--tls-cert", "x.pem"], "--tls-cert and --tls-key go together"),
        (["--tick", "0"], "--tick must be a number above 0"),
        (["--tick", "nan"], "--tick must be a number above 0, got nan"),
        (["--traffic-scale", "inf"], "--traffic-scale must be a number, 0 or more"),
        (["fault", "--port", "99999", "--list"], "--port must be 1..65535, got 99999"),
        (["fault", "--port", "1", "slow_synthesis", "--value", "nan"], "--value must be a finite"),
        (
            ["fault", "--port", "1", "cost_spike", "--duration", "inf"],
            "--duration must be a finite",
        ),
        (
            ["fault", "--port", "1", "--list", "--tls-ca", "/nonexistent/ca.crt"],
            "--tls-ca /nonexistent/ca.crt: cannot load a CA certificate (No such file",
        ),
    ],
)
def test_bad_usage_exits_2_or_1_with_a_clear_message(args: list[str], message: str) -> None:
    result = acgs_sim(*args)
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("content", ["", "not a certificate\n", None])
def test_unusable_tls_ca_is_a_usage_error(tmp_path: Path, content: str | None) -> None:
    ca = tmp_path / "ca.crt"
    if content is None:
        ca.mkdir()  # a directory where the CA file should be
    else:
        ca.write_text(content)
    result = acgs_sim("fault", "--port", "1", "--list", "--tls-ca", str(ca))
    assert result.returncode == 2
    assert f"--tls-ca {ca}: cannot load a CA certificate" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error() -> None:
    base = free_base_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", base + SERVICE_NAMES.index("fv")))
        blocker.listen()
        result = acgs_sim("--base-port", str(base))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{base + 3}" in result.stderr
    assert "choose another --base-port" in result.stderr
    # Nothing stays bound: the services started before fv were closed again.
    assert ports_free(range(base, base + len(SERVICE_NAMES)))


def test_help_lists_services_and_faults() -> None:
    result = acgs_sim("--help")
    assert result.returncode == 0
    for word in [*SERVICE_NAMES, "compliance_drop", "unresponsive", "--basic-auth-file"]:
        assert word in result.stdout
    fault_help = acgs_sim("fault", "--help")
    assert fault_help.returncode == 0
    assert "slow_synthesis" in fault_help.stdout


# --- TLS and basic auth ----------------------------------------------------------------


def write_secret(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_tls_and_basic_auth(run_sim: type[SimProcess], certs: Certs, tmp_path: Path) -> None:
    auth_file = write_secret(tmp_path / "auth", "prom:s3cret-pass\n")
    sim = run_sim(
        free_base_port(),
        "--tls-cert",
        str(certs.server_cert),
        "--tls-key",
        str(certs.server_key),
        "--basic-auth-file",
        str(auth_file),
        services=["pgc"],
        scheme="https",
    )
    trust = ssl.create_default_context(cafile=str(certs.ca))
    sim.start(client=httpx.Client(verify=trust, auth=("prom", "s3cret-pass"), timeout=2))
    assert sim.process is not None
    assert "s3cret-pass" not in " ".join(sim.process.args)  # type: ignore[arg-type]
    url = sim.url("pgc")
    with httpx.Client(verify=trust, timeout=5) as client:
        assert client.get(f"{url}/metrics").status_code == 401
        assert client.get(f"{url}/metrics", auth=("prom", "wrong")).status_code == 401
        good = client.get(f"{url}/metrics", auth=("prom", "s3cret-pass"))
        assert good.status_code == 200
        assert "acgs_governance_action_cost_sol" in good.text
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/metrics", timeout=5)  # the system CAs do not trust it
    result = acgs_sim(
        "fault",
        "--port",
        str(sim.port("pgc")),
        "--tls-ca",
        str(certs.ca),
        "--basic-auth-file",
        str(auth_file),
        "cost_spike",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cost_spike" in result.stdout
    assert sim.terminate() == 0
    out, err = sim.output()
    assert "s3cret-pass" not in out + err


def test_tls12_refuses_cbc_and_accepts_aead(run_sim: type[SimProcess], certs: Certs) -> None:
    tls = ("--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key))
    sim = run_sim(free_base_port(), *tls, services=["auth"], scheme="https")
    sim.start(client=httpx.Client(verify=ssl.create_default_context(cafile=str(certs.ca))))
    port = sim.port("auth")
    with pytest.raises(ssl.SSLError, match=REFUSED):
        handshake(port, certs.ca, CBC_ONLY)
    for ciphers in AEAD_TLS12.values():
        assert handshake(port, certs.ca, ciphers)[0] == "TLSv1.2"
    assert handshake(port, certs.ca, tls12=False)[0] == "TLSv1.3"


def test_basic_auth_from_environment(run_sim: type[SimProcess]) -> None:
    import os

    env = {**os.environ, "ACGS_SIM_BASIC_AUTH": "scraper:from-env"}
    sim = run_sim(free_base_port(), services=["auth"], env=env)
    sim.start(client=httpx.Client(auth=("scraper", "from-env"), timeout=2))
    assert httpx.get(f"{sim.url('auth')}/health").status_code == 401
    assert httpx.get(f"{sim.url('auth')}/health", auth=("scraper", "from-env")).status_code == 200


def test_basic_auth_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    auth_file = write_secret(tmp_path / "auth", "prom:s3cret-pass\n", mode=0o644)
    result = acgs_sim("--base-port", str(free_base_port()), "--basic-auth-file", str(auth_file))
    assert result.returncode == 2
    assert f"chmod 600 {auth_file}" in result.stderr
    assert "s3cret-pass" not in result.stderr


def test_malformed_basic_auth_file(tmp_path: Path) -> None:
    auth_file = write_secret(tmp_path / "auth", "just-a-password\n")
    result = acgs_sim("--base-port", str(free_base_port()), "--basic-auth-file", str(auth_file))
    assert result.returncode == 2
    assert f"{auth_file} line 1: expected user:password" in result.stderr
    assert "just-a-password" not in result.stderr


def test_basic_auth_file_that_is_not_text(tmp_path: Path) -> None:
    auth_file = tmp_path / "auth"
    auth_file.write_bytes(b"\xff\xfe\x00user:secret")
    auth_file.chmod(0o600)
    result = acgs_sim("fault", "--port", "1", "--list", "--basic-auth-file", str(auth_file))
    assert result.returncode == 2
    assert f"--basic-auth-file {auth_file}: not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr


def test_fault_client_against_a_server_that_is_not_acgs_sim(tmp_path: Path) -> None:
    # A real HTTP server that answers 200 with a page where the control endpoint should be.
    (tmp_path / "control").mkdir()
    (tmp_path / "control" / "faults").write_text("<html>not acgs-sim</html>\n")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=1) as client:
            wait_ready(client, "/", process=server, timeout_s=10, what="http.server")
        result = acgs_sim("fault", "--port", str(port), "--list")
    finally:
        stop_process(server)
    assert result.returncode == 1
    assert "did not answer like an acgs-sim service (HTTP 200" in result.stderr
    assert "Traceback" not in result.stderr
