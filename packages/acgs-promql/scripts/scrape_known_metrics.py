"""Regenerate the known metric lists of node_exporter, Prometheus and Alertmanager.

Starts each real binary on a free loopback port with a temporary data dir, scrapes its
``/metrics`` once, and writes ``src/acgs_promql/data/known_metrics/<name>.txt`` with one
``<metric family> <type>`` line per family (sorted). Run it from the package directory:

    uv run python scripts/scrape_known_metrics.py

The haproxy, redis and postgres lists are not scraped (those exporters need the server
they watch); they were written from the exporters' documentation and source.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from acgs_metrics.ports import free_port

OUT = Path(__file__).resolve().parent.parent / "src" / "acgs_promql" / "data" / "known_metrics"


def commands(port: int, state: Path) -> dict[str, list[str]]:
    addr = f"127.0.0.1:{port}"
    prom_cfg = state / "prometheus.yml"
    prom_cfg.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs: [{{job_name: self, static_configs: [{{targets: ['{addr}']}}]}}]\n"
        # A rule group and an Alertmanager (unreachable) make the per-group and
        # per-Alertmanager metric families appear.
        f"rule_files: ['{state / 'rules.yml'}']\n"
        "alerting: {alertmanagers: [{static_configs: [{targets: ['127.0.0.1:1']}]}]}\n"
    )
    (state / "rules.yml").write_text(
        "groups: [{name: g, rules: [{alert: Always, expr: vector(1)}, {record: r, expr: up}]}]\n"
    )
    am_cfg = state / "alertmanager.yml"
    am_cfg.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    return {
        "node_exporter": ["prometheus-node-exporter", f"--web.listen-address={addr}"],
        "prometheus": [
            "prometheus",
            f"--config.file={prom_cfg}",
            f"--storage.tsdb.path={state / 'tsdb'}",
            f"--web.listen-address={addr}",
        ],
        "alertmanager": [
            "prometheus-alertmanager",
            f"--config.file={am_cfg}",
            f"--storage.path={state / 'am'}",
            f"--web.listen-address={addr}",
            "--cluster.listen-address=",
        ],
    }


def families(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            found[name] = kind.strip()
    return found


def scrape(name: str, argv: list[str], port: int) -> dict[str, str]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                # Give Prometheus a few self-scrapes and a rule evaluation so lazy metrics appear.
                time.sleep(8 if name == "prometheus" else 1)
                found: dict[str, str] = {}
                for _ in range(2):  # the first request creates the per-handler families
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as resp:
                        found |= families(resp.read().decode())
                return found
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("node_exporter", "prometheus", "alertmanager"):
            port = free_port()
            argv = commands(port, Path(tmp))[name]
            found = scrape(name, argv, port)
            lines = [f"{metric} {kind}" for metric, kind in sorted(found.items())]
            header = f"# scraped from {argv[0]} /metrics by scripts/scrape_known_metrics.py\n"
            (OUT / f"{name}.txt").write_text(header + "\n".join(lines) + "\n")
            print(f"{name}: {len(lines)} families")


if __name__ == "__main__":
    main()
