"""Recorded series for the backfilled history: ``promtool tsdb create-blocks-from rules``
evaluates the stack's recording rules over the history through the Prometheus API.

promtool cannot see a recorded series that is not in the TSDB yet, so rules that read other
recorded series wait for those: the rules are split into levels (level 1 reads only scraped
series, level n reads level n-1 at most), and each level's blocks are loaded before the next
is evaluated.

promtool 2.42 takes neither a CA nor credentials, and credentials in its URL would show in
its process arguments; so it talks to a proxy on loopback that only this backfill uses
(reached under a random path) and that adds TLS and basic auth.
"""

from __future__ import annotations

import http.server
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from acgs_deploy.rulefiles import rule_files
from acgs_promql.analysis import analyze

__all__ = ["RuleLevel", "api_proxy", "rule_levels"]


@dataclass(frozen=True)
class RuleLevel:
    number: int
    names: tuple[str, ...]  # the series recorded at this level
    groups: list[dict[str, Any]]  # rule groups holding only this level's recording rules

    def write(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump({"groups": self.groups}, sort_keys=False))
        return path


def rule_levels(rules_dir: Path) -> list[RuleLevel]:
    """The recording rules of the rule files in `rules_dir`, by level (see the module doc)."""
    rules: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (group, rule)
    for path in rule_files(rules_dir):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in document.get("groups") or []:
            rules += [(group, rule) for rule in group.get("rules") or [] if "record" in rule]
    recorded = {rule["record"] for _, rule in rules}
    reads = {id(rule): analyze(str(rule["expr"])).metric_names & recorded for _, rule in rules}
    level: dict[str, int] = {}
    changed = True
    while changed:  # longest chain of recorded inputs; a cycle stops at len(rules)
        changed = False
        for _, rule in rules:
            new = 1 + max((level.get(name, 0) for name in reads[id(rule)]), default=0)
            if new != level.get(rule["record"]) and new <= len(rules):
                level[rule["record"]] = new
                changed = True
    levels = []
    for number in sorted(set(level.values())):
        groups: dict[str, dict[str, Any]] = {}
        for group, rule in rules:
            if level[rule["record"]] != number:
                continue
            copy = {k: v for k, v in group.items() if k != "rules"}
            groups.setdefault(group["name"], {**copy, "rules": []})["rules"].append(rule)
        names = tuple(sorted(n for n, at in level.items() if at == number))
        levels.append(RuleLevel(number, names, list(groups.values())))
    return levels


@contextmanager
def api_proxy(client: httpx.Client) -> Iterator[str]:
    """A base URL on loopback, under a random path, whose GET and POST requests reach the
    Prometheus API through `client` (its CA and credentials)."""
    token = secrets.token_urlsafe(16)
    prefix = f"/{token}"

    class Handler(http.server.BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if not self.path.startswith(prefix + "/api/v1/"):
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            answer = client.request(
                self.command,
                self.path.removeprefix(prefix),
                content=body,
                headers={"Content-Type": self.headers.get("Content-Type", "")} if body else None,
            )
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = _forward
        do_POST = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass  # promtool's queries are not news

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="backfill-proxy", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
