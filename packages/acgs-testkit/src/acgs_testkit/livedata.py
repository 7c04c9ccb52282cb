"""A real Prometheus holding a known history, for the live lint checks and their benchmark.

:func:`write_flapping_history` writes OpenMetrics that promtool turns into TSDB blocks: a
gauge ``demo_flag{job="demo",instance="a"}`` that is 1 for 5 minutes every 30 minutes,
``FLAP_PHASES`` times, then 0 until a minute ago (an alert ``demo_flag > 0`` with ``for``
under 5 minutes fires ``FLAP_PHASES`` times, each fire after the first 25 minutes after the
last resolved: a flap), and a counter ``demo_requests_total{code="200"}``.
:func:`live_prometheus` starts Prometheus on it, scraping itself every ``scrape_interval``,
and returns once every target's first scrape is stored (so their jobs have series).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from acgs_testkit.ports import free_port
from acgs_testkit.servers import Server, WebAuth, create_blocks, prometheus
from acgs_testkit.waiting import wait_for

__all__ = [
    "FLAP_ON_S",
    "FLAP_PERIOD_S",
    "FLAP_PHASES",
    "live_prometheus",
    "write_flapping_history",
]

FLAP_PHASES = 6
FLAP_PERIOD_S = 1800
FLAP_ON_S = 300
SAMPLE_S = 15


def write_flapping_history(path: Path, now: int) -> None:
    start = now - FLAP_PHASES * FLAP_PERIOD_S - 600
    flags = ["# TYPE demo_flag gauge"]
    requests = ["# TYPE demo_requests counter"]
    for t in range(start, now - 60, SAMPLE_S):
        offset = t - start
        on = offset < FLAP_PHASES * FLAP_PERIOD_S and offset % FLAP_PERIOD_S < FLAP_ON_S
        flags.append(f'demo_flag{{job="demo",instance="a"}} {int(on)} {t}')
        requests.append(f'demo_requests_total{{job="demo",instance="a",code="200"}} {offset} {t}')
    path.write_text("\n".join([*flags, *requests, "# EOF"]) + "\n")


def _config(port: int, interval: str, app: str | None) -> str:
    app_job = f"  - job_name: app\n    static_configs:\n      - targets: ['{app}']\n" if app else ""
    return (
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        "scrape_configs:\n" + app_job + "  - job_name: prometheus\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )


@contextmanager
def live_prometheus(
    workdir: Path,
    now: int,
    *,
    scrape_interval: str = "20s",
    auth: WebAuth | None = None,
    app: str | None = None,
    history: Callable[[Path, int], None] = write_flapping_history,
) -> Iterator[Server]:
    """Prometheus on the flapping history plus its own scrapes (and, with ``app``, a plain
    HTTP target ``host:port`` as job ``app``); ``history`` writes the OpenMetrics to
    backfill, given the file and ``now``; stopped on the way out."""
    workdir.mkdir(parents=True, exist_ok=True)
    history(workdir / "history.om", now)
    create_blocks(workdir / "history.om", workdir / "data")
    port = free_port()
    config = _config(port, scrape_interval, app)
    if auth is not None:  # it scrapes itself through its own TLS and basic auth
        config = config.replace(
            "    static_configs:",
            f"    scheme: https\n    tls_config:\n      ca_file: {auth.ca}\n"
            f"    basic_auth:\n      username: {auth.username}\n"
            f"      password: {auth.password}\n    static_configs:",
        )
    server = prometheus(workdir, config, port=port, auth=auth, retention="30d")
    (workdir / "prometheus.yml").chmod(0o600)  # it may hold the scrape password
    with server, server.client() as client:

        def scraped() -> bool:
            reply = client.get("/api/v1/query", params={"query": "up"})
            return len(reply.json()["data"]["result"]) == (2 if app else 1)

        wait_for(scraped, 90, "every target's first scrape")
        yield server
