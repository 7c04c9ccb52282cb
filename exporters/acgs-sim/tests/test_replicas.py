"""``acgs-sim --replicas N``: a fleet of N instances per service on the documented ports."""

from __future__ import annotations

import socket
import subprocess

import httpx
import pytest

from acgs_metrics import SERVICE_NAMES
from acgs_metrics.services import instance_port
from acgs_testkit.ports import ports_free
from acgs_testkit.sim import ACGS_SIM, SimProcess, free_base_port, parse_metrics


def test_instance_port_scheme() -> None:
    # Instance 0 keeps the guide's ports; instance r of service i: base + r*7 + i.
    assert [instance_port(name) for name in SERVICE_NAMES] == list(range(8000, 8007))
    assert instance_port("auth", 8000, 1) == 8007
    assert instance_port("ec", 18000, 19) == 18000 + 19 * 7 + 6
    with pytest.raises(KeyError, match="unknown ACGS service 'nope'"):
        instance_port("nope")


def test_every_instance_serves_its_service_with_its_own_faults(
    run_sim: type[SimProcess],
) -> None:
    replicas = 3
    base = free_base_port(replicas)
    sim = run_sim(base, "--traffic-scale", "0", replicas=replicas)
    sim.start()  # waits for every instance's /health
    ports = list(range(base, base + 7 * replicas))
    assert not any(ports_free([port]) for port in ports)
    assert ports_free([base + 7 * replicas])
    with httpx.Client(timeout=5) as client:
        for replica in range(replicas):
            for name in SERVICE_NAMES:
                health = client.get(f"{sim.url(name, replica)}/health").json()
                assert health["service"] == name
        # A fault on instance 1 of gs leaves instances 0 and 2 alone.
        posted = client.post(
            f"{sim.url('gs', 1)}/control/faults", json={"fault": "compliance_drop", "value": 0.1}
        )
        assert posted.status_code == 201
        faults = [
            client.get(f"{sim.url('gs', r)}/health").json()["active_faults"]
            for r in range(replicas)
        ]
        assert faults == [[], ["compliance_drop"], []]
        # Each instance has its own registry: the same series, scraped separately.
        names = [
            {s.name for s in parse_metrics(client.get(f"{sim.url('pgc', r)}/metrics").text)}
            for r in range(replicas)
        ]
        assert names[0] == names[1] == names[2]
        assert "acgs_governance_decisions_total" in names[0]
    assert sim.terminate() == 0
    assert ports_free(ports)


def test_the_listing_shows_every_instance_port(run_sim: type[SimProcess]) -> None:
    base = free_base_port(2)
    sim = run_sim(base, "--traffic-scale", "0", services=["gs"], replicas=2, env={"COLUMNS": "200"})
    sim.start()
    sim.terminate()
    out, _ = sim.output()
    assert f"2: ports {base + 4}..{base + 11} step 7" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replicas", "0"], "--replicas must be 1 or more, got 0"),
        (
            ["--replicas", "10", "--base-port", "65500"],
            "10 replica(s) of the seven services take 70 ports from it",
        ),
    ],
)
def test_bad_replicas(args: list[str], message: str) -> None:
    done = subprocess.run([str(ACGS_SIM), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode in (1, 2)
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_taken_port_of_a_later_instance_frees_every_earlier_one() -> None:
    base = free_base_port(2)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", instance_port("fv", base, 1)))
        blocker.listen()
        done = subprocess.run(
            [str(ACGS_SIM), "--base-port", str(base), "--replicas", "2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{base + 10}" in done.stderr
    assert ports_free(range(base, base + 14))
