"""Regenerate the known metric lists of node_exporter, Prometheus and Alertmanager.

Starts each real binary on a free loopback port with a temporary data dir, scrapes its
``/metrics`` once, and writes ``src/acgs_promql/data/known_metrics/<name>.txt`` with one
``<metric family> <type>`` line per family (sorted). Run it from the package directory:

    uv run python scripts/scrape_known_metrics.py

The haproxy, redis and postgres lists are not scraped (those exporters need the server
they watch); they were written from the exporters' documentation and source.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from acgs_testkit import servers
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_port

OUT = REPO_ROOT / "packages" / "acgs-promql" / "src" / "acgs_promql" / "data" / "known_metrics"


def started(name: str, state: Path) -> servers.Server:
    """The binary behind ``name``, configured so its lazily created families appear."""
    if name == "node_exporter":
        return servers.node_exporter(state / name)
    if name == "alertmanager":
        return servers.alertmanager(state / name)
    port = free_port()
    (state / "rules.yml").write_text(
        "groups: [{name: g, rules: [{alert: Always, expr: vector(1)}, {record: r, expr: up}]}]\n"
    )
    # A rule group and an Alertmanager (unreachable) make the per-group and
    # per-Alertmanager metric families appear.
    config = (
        servers.self_scrape_config(port)
        + f"rule_files: ['{state / 'rules.yml'}']\n"
        + "alerting: {alertmanagers: [{static_configs: [{targets: ['127.0.0.1:1']}]}]}\n"
    )
    return servers.prometheus(state / name, config, port=port)


def families(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            found[name] = kind.strip()
    return found


def scrape(name: str, server: servers.Server) -> dict[str, str]:
    with server, server.client() as client:
        # Give Prometheus a few self-scrapes and a rule evaluation so lazy metrics appear.
        time.sleep(8 if name == "prometheus" else 1)
        found: dict[str, str] = {}
        for _ in range(2):  # the first request creates the per-handler families
            found |= families(client.get("/metrics").raise_for_status().text)
        return found


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("node_exporter", "prometheus", "alertmanager"):
            server = started(name, Path(tmp))
            found = scrape(name, server)
            lines = [f"{metric} {kind}" for metric, kind in sorted(found.items())]
            header = (
                f"# scraped from {server.argv[0]} /metrics by scripts/scrape_known_metrics.py\n"
            )
            (OUT / f"{name}.txt").write_text(header + "\n".join(lines) + "\n")
            print(f"{name}: {len(lines)} families")


if __name__ == "__main__":
    main()
