"""Regenerate the known metric lists from the real exporters (``nox -s refresh_exporter_metrics``).

Starts each real binary on a free loopback port with a temporary data dir, scrapes its
``/metrics``, and writes ``src/acgs_promql/data/known_metrics/<name>.txt`` with one
``<metric family> <type>`` line per family (sorted):

- ``node_exporter``, ``prometheus``, ``alertmanager``: each binary alone (Prometheus with a
  rule group and an unreachable Alertmanager, so per-group and per-Alertmanager families
  appear);
- ``haproxy_exporter``, ``redis_exporter``, ``postgres_exporter``: the servers they watch
  running for real, with acgs-sim's traffic going through HAProxy into Redis and PostgreSQL
  (:func:`acgs_testkit.infra.infra_stack`), so the families that appear only with traffic,
  keys or tables are there. The HAProxy list is the union of HAProxy's native exporter (what
  the local stack scrapes) and prometheus-haproxy-exporter (what the compose target runs).

    uv run python packages/acgs-promql/scripts/scrape_known_metrics.py [--out DIR] [NAME ...]

Two runs on the same binaries write the same files; a test checks the committed lists are
what this script writes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from acgs_testkit import infra, servers
from acgs_testkit.paths import REPO_ROOT
from acgs_testkit.ports import free_port

OUT = REPO_ROOT / "packages" / "acgs-promql" / "src" / "acgs_promql" / "data" / "known_metrics"
SCRIPT = "scripts/scrape_known_metrics.py"
Scraped = dict[str, tuple[str, dict[str, str]]]  # list name -> (source, families)
STANDALONE = ("node_exporter", "prometheus", "alertmanager")
INFRASTRUCTURE = ("haproxy_exporter", "redis_exporter", "postgres_exporter")


def families(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            found[name] = kind.strip()
    return found


def scrape(server: servers.Server, times: int = 2) -> dict[str, str]:
    """The families of ``server``'s /metrics, over ``times`` scrapes (the first request
    creates per-handler families)."""
    found: dict[str, str] = {}
    with server.client() as client:
        for _ in range(times):
            found |= families(client.get("/metrics").raise_for_status().text)
    return found


def standalone(state: Path, wanted: set[str]) -> Iterator[tuple[str, str, dict[str, str]]]:
    """node_exporter, Prometheus and Alertmanager, each alone."""
    port = free_port()
    (state / "rules.yml").write_text(
        "groups: [{name: g, rules: [{alert: Always, expr: vector(1)}, {record: r, expr: up}]}]\n"
    )
    config = (
        servers.self_scrape_config(port)
        + f"rule_files: ['{state / 'rules.yml'}']\n"
        + "alerting: {alertmanagers: [{static_configs: [{targets: ['127.0.0.1:1']}]}]}\n"
    )
    started: dict[str, Callable[[], servers.Server]] = {
        "node_exporter": lambda: servers.node_exporter(state / "node_exporter"),
        "prometheus": lambda: servers.prometheus(state / "prometheus", config, port=port),
        "alertmanager": lambda: servers.alertmanager(state / "alertmanager"),
    }
    for name, start in started.items():
        if name not in wanted:
            continue
        with start() as server:
            # A few self-scrapes and a rule evaluation, so lazy families appear.
            time.sleep(8 if name == "prometheus" else 1)
            yield name, server.argv[0], scrape(server)


@contextmanager
def infrastructure(state: Path) -> Iterator[Scraped]:
    """HAProxy, Redis and PostgreSQL under acgs-sim's traffic, and their exporters."""
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(infra.infra_stack(state / "infra"))
        legacy = cleanup.enter_context(
            infra.haproxy_exporter(state / "haproxy_exporter", stack.haproxy)
        )
        time.sleep(5)  # traffic through every part
        native, csv = scrape(stack.haproxy), scrape(legacy)
        # The native exporter's type wins where both name a family.
        yield {
            "haproxy_exporter": (
                "HAProxy's native exporter and prometheus-haproxy-exporter",
                csv | native,
            ),
            "redis_exporter": (
                stack.redis_exporter.argv[0],
                scrape(stack.redis_exporter),
            ),
            "postgres_exporter": (
                stack.postgres_exporter.argv[0],
                scrape(stack.postgres_exporter),
            ),
        }


def write(out: Path, name: str, source: str, found: dict[str, str]) -> None:
    lines = [f"{metric} {kind}" for metric, kind in sorted(found.items())]
    header = f"# scraped from {source} /metrics by {SCRIPT}\n"
    (out / f"{name}.txt").write_text(header + "\n".join(lines) + "\n")
    print(f"{name}: {len(lines)} families")


def main(argv: list[str]) -> int:
    known = {*STANDALONE, *INFRASTRUCTURE}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"lists: {', '.join(known)}")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write (%(default)s)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - known)
    if unknown:
        parser.error(f"unknown list(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    wanted = set(args.names) or known
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        for name, source, found in standalone(state, wanted):
            write(out, name, source, found)
        if wanted & set(INFRASTRUCTURE):
            with infrastructure(state) as scraped:
                for name, (source, found) in scraped.items():
                    if name in wanted:
                        write(out, name, source, found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
