"""Where things live in a state directory (see DESIGN.md): one place names every path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["StateLayout"]


@dataclass(frozen=True)
class StateLayout:
    root: Path

    @property
    def env_file(self) -> Path:
        return self.root / "monitoring.env"

    @property
    def certs_dir(self) -> Path:
        return self.root / "certs"

    @property
    def ca_cert(self) -> Path:
        return self.certs_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.certs_dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.certs_dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.certs_dir / "server.key"

    @property
    def peer_cert(self) -> Path:
        """Client certificate of the Alertmanager peers (gossip mutual TLS, topology ha)."""
        return self.certs_dir / "peer.crt"

    @property
    def peer_key(self) -> Path:
        return self.certs_dir / "peer.key"

    @property
    def config_dir(self) -> Path:
        """The live configuration: a symlink swapped atomically to a validated version."""
        return self.root / "config"

    @property
    def config_versions_dir(self) -> Path:
        return self.root / "config.d"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def prometheus_data(self) -> Path:
        return self.data_dir / "prometheus"

    @property
    def alertmanager_data(self) -> Path:
        return self.data_dir / "alertmanager"

    @property
    def grafana_data(self) -> Path:
        return self.data_dir / "grafana"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def backups_dir(self) -> Path:
        return self.root / "backups"

    @property
    def compose_dir(self) -> Path:
        return self.root / "compose"

    @property
    def webhook_log(self) -> Path:
        """Alerts the demo webhook receiver recorded, one JSON object a line."""
        return self.logs_dir / "webhook.jsonl"

    def make(self) -> None:
        """Create the directories; the root and secrets-bearing ones are private (0700)."""
        for directory in (self.root, self.certs_dir, self.config_versions_dir, self.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)
        for directory in (
            self.prometheus_data,
            self.alertmanager_data,
            self.grafana_data,
            self.logs_dir,
            self.backups_dir,
        ):
            directory.mkdir(parents=True, exist_ok=True)
