"""Stack settings: the guide's ports and paths as defaults, then a stack file, then ``ACGS_*``
environment variables, then explicit overrides (task flags). Later sources win.

``StackSettings.load(state_dir=None, **overrides)`` is the one way to get settings; a bad value
raises :class:`SettingsError` naming the field, where it came from and what is allowed.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as SourceError

from acgs_deploy.layout import StateLayout
from acgs_promql.durations import parse_duration
from acgs_promql.repository import find_repo_root

__all__ = [
    "REPO_ROOT",
    "SECRET_FIELDS",
    "STACK_FILE_NAME",
    "SettingsError",
    "StackSettings",
    "TopologyPlan",
]

# This toolkit's checkout: its configs/, rules/ and dashboards/, and the default state dir.
REPO_ROOT = find_repo_root(Path(__file__))
# Looked for in the working directory when no stack file is named.
STACK_FILE_NAME = "acgs-stack.yml"

_stack_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "acgs_stack_file", default=None
)


# Prometheus label names; names starting with "__" are reserved for its internal use.
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# A host name as DNS allows it (RFC 1123 labels); addresses are checked by `ipaddress`.
HOST_LABEL = re.compile(r"(?!-)[a-zA-Z0-9-]{1,63}(?<!-)")
# Go's time.Duration, which Prometheus and Alertmanager parse durations into, ends here.
LONGEST_DURATION_S = (2**63 - 1) / 1e9

# VictoriaMetrics refuses a -retentionPeriod under a day.
VM_MIN_RETENTION_S = 86400.0

# Settings whose values never appear in messages.
SECRET_FIELDS = frozenset({"smtp_password", "slack_webhook_url", "pagerduty_routing_key"})


@dataclass(frozen=True)
class TopologyPlan:
    """The servers a topology runs: replicas per shard, cluster size, long-term store."""

    prometheus_replicas: int
    alertmanager_replicas: int
    prometheus_shards: int
    long_term_storage: Literal["victoriametrics", "none"]

    @property
    def prometheus_count(self) -> int:
        return self.prometheus_replicas * self.prometheus_shards


class SettingsError(ValueError):
    """Settings that cannot be used; the message says which and what to do."""


class _StackFileSource(PydanticBaseSettingsSource):
    """Values from the YAML stack file chosen by :meth:`StackSettings.load`."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path
        self.values: dict[str, Any] = {}
        if path is not None:
            self.values = _read_stack_file(path)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def _read_stack_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SettingsError(f"{path}: cannot read the stack file: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise SettingsError(f"{where}: not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: a stack file is a mapping of setting names to values")
    unknown = sorted(set(data) - set(StackSettings.model_fields))
    if unknown:
        raise SettingsError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(StackSettings.model_fields))}"
        )
    return data


class StackSettings(BaseSettings):
    """Where the stack lives, what it listens on and how it alerts."""

    model_config = SettingsConfigDict(env_prefix="ACGS_", extra="forbid", validate_default=True)

    state_dir: Path = Field(
        default=REPO_ROOT / ".acgs", description="secrets, certificates, configs, data, logs"
    )
    host: str = Field(
        default="127.0.0.1", description="address the servers listen on (0.0.0.0 for all)"
    )
    prometheus_port: int = Field(default=9090, ge=1, le=65535)
    alertmanager_port: int = Field(default=9093, ge=1, le=65535)
    node_exporter_port: int = Field(default=9100, ge=1, le=65535)
    grafana_port: int = Field(default=3000, ge=1, le=65535)
    # The seven ACGS services listen on sim_base_port + index (auth 0 ... ec 6).
    sim_host: str = "127.0.0.1"
    sim_base_port: int = Field(default=8000, ge=1, le=65535 - 6)
    # The demo webhook receiver that records alerts (demo mode only).
    webhook_port: int = Field(default=9097, ge=1, le=65535)
    # Topology ha only (docs/topology.md): the first Prometheus and Alertmanager keep the ports
    # above; Prometheus server k (k >= 1, shards x replicas in all) listens on
    # prometheus_replica_base_port + k - 1, Alertmanager peer k on
    # alertmanager_replica_base_port + k - 1, and peer k (k >= 0) gossips on
    # alertmanager_cluster_base_port + k. Outside the guide's ports (3000, 8000-8006, 8080,
    # 9090-9101, 9121, 9187) and VictoriaMetrics' 8428.
    prometheus_replica_base_port: int = Field(default=9200, ge=1, le=65535)
    alertmanager_replica_base_port: int = Field(default=9300, ge=1, le=65535)
    alertmanager_cluster_base_port: int = Field(default=9400, ge=1, le=65535)
    victoriametrics_port: int = Field(default=8428, ge=1, le=65535)
    # The one query endpoint (HAProxy): VictoriaMetrics, else the Prometheus replicas.
    query_port: int = Field(default=9190, ge=1, le=65535)

    retention: str = Field(default="15d", pattern=r"^[0-9]+(ms|s|m|h|d|w|y)$")
    scrape_interval: str = Field(default="15s", pattern=r"^[0-9]+(ms|s|m|h)$")
    acgs_scrape_interval: str = Field(default="5s", pattern=r"^[0-9]+(ms|s|m|h)$")
    evaluation_interval: str = Field(default="5s", pattern=r"^[0-9]+(ms|s|m|h)$")
    external_labels: dict[str, str] = Field(
        default_factory=lambda: {"cluster": "acgs-1-production", "environment": "production"}
    )

    # How often Alertmanager writes its silences and notification log to disk: a crash
    # (kill -9, power loss) loses at most this much. Alertmanager's own default is 15m.
    alertmanager_maintenance_interval: str = Field(default="1m", pattern=r"^[0-9]+(ms|s|m|h)$")

    rules_dir: Path = Field(
        default=REPO_ROOT / "rules", description="rule files (*.yml and *.yaml)"
    )

    # User-supplied CA-signed certificate instead of the local CA (all three or none).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None

    # Optional exporters already running (local target): a job is rendered only when set.
    haproxy_exporter_target: str | None = None
    redis_exporter_target: str | None = None
    postgres_exporter_target: str | None = None
    # Compose target: run the exporter containers against these (each only when set).
    haproxy_scrape_uri: str | None = None
    redis_address: str | None = None
    postgres_address: str | None = None

    # Alert receivers (kept in monitoring.env once given).
    alert_email_to: str | None = None
    smtp_smarthost: str | None = None
    smtp_from: str | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    slack_webhook_url: str | None = None
    slack_channel: str | None = None
    pagerduty_routing_key: str | None = None

    # The topology (docs/topology.md): one of each server, or replicated Prometheus pairs, an
    # Alertmanager cluster and a long-term store. The counts below apply to `ha` only.
    topology: Literal["single", "ha"] = "single"
    prometheus_replicas: int = Field(default=2, ge=1, le=16)
    alertmanager_replicas: int = Field(default=3, ge=1, le=16)
    prometheus_shards: int = Field(default=1, ge=1, le=64)
    # Default: victoriametrics with topology ha, none with single.
    long_term_storage: Literal["victoriametrics", "none"] | None = None

    min_free_disk_mb: int = Field(default=512, ge=0)
    startup_timeout_s: float = Field(default=60.0, gt=0)

    @field_validator("state_dir", "rules_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("host", "sim_host", mode="after")
    @classmethod
    def _host(cls, value: str) -> str:
        if value == "" or _is_address(value):
            return value
        labels = value.rstrip(".").split(".")
        looks_numeric = all(label.isdigit() for label in labels)
        if looks_numeric or len(value) > 253 or not all(map(HOST_LABEL.fullmatch, labels)):
            raise ValueError(
                "not an IP address or host name: give an address of this machine such as "
                "127.0.0.1, 0.0.0.0 (every interface) or ::1, or a host name that resolves to one"
            )
        return value

    @field_validator(
        "retention",
        "scrape_interval",
        "acgs_scrape_interval",
        "evaluation_interval",
        "alertmanager_maintenance_interval",
        mode="after",
    )
    @classmethod
    def _positive_duration(cls, value: str) -> str:
        seconds = parse_duration(value)
        if seconds <= 0:
            raise ValueError("must be longer than 0 (e.g. 15s, 5m, 15d)")
        if seconds > LONGEST_DURATION_S:
            raise ValueError("too long for Prometheus (at most 292 years): give a shorter one")
        return value

    @field_validator("external_labels", mode="after")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [n for n in value if not LABEL_NAME.fullmatch(n) or n.startswith("__")]
        if bad:
            raise ValueError(
                f"invalid label name(s) {', '.join(map(repr, bad))}: a Prometheus label name "
                "is letters, digits and underscores, not starting with a digit or with '__'"
            )
        return value

    @model_validator(mode="after")
    def _topology_keys(self) -> StackSettings:
        if self.topology == "single":
            # Keys set to other than their default: a full dump of single settings (the last
            # deploy's, in deploy.json) holds the defaults and must load back.
            counts = ("prometheus_replicas", "alertmanager_replicas", "prometheus_shards")
            given = [
                key
                for key in counts
                if key in self.model_fields_set
                and getattr(self, key) != type(self).model_fields[key].default
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} apply only to topology ha: set topology: ha "
                    "(or ACGS_TOPOLOGY=ha, --topology ha), or remove them"
                )
        store = self.topology_plan.long_term_storage
        if store == "victoriametrics" and parse_duration(self.retention) < VM_MIN_RETENTION_S:
            raise ValueError(
                f"retention {self.retention} is shorter than VictoriaMetrics keeps data "
                "(1d at least): give retention of 1d or more, or set long_term_storage: none"
            )
        return self

    @property
    def topology_plan(self) -> TopologyPlan:
        """How many of each server run, whatever the topology."""
        if self.topology == "single":
            return TopologyPlan(1, 1, 1, self.long_term_storage or "none")
        return TopologyPlan(
            self.prometheus_replicas,
            self.alertmanager_replicas,
            self.prometheus_shards,
            self.long_term_storage or "victoriametrics",
        )

    @property
    def layout(self) -> StateLayout:
        return StateLayout(self.state_dir)

    @property
    def connect_host(self) -> str:
        """Where clients reach the servers: a wildcard listen address means loopback."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags beat ACGS_* variables beat the stack file beat the defaults.
        return init_settings, env_settings, _StackFileSource(settings_cls, _stack_file.get())

    @classmethod
    def load(
        cls,
        state_dir: Path | str | None = None,
        *,
        stack_file: Path | str | None = None,
        **overrides: Any,
    ) -> StackSettings:
        """Settings from every source; ``None`` overrides are ignored (unset flags).

        The stack file is ``stack_file``, else ``$ACGS_STACK_FILE``, else ``acgs-stack.yml``
        in the working directory when it exists.
        """
        chosen = {k: v for k, v in overrides.items() if v is not None}
        if state_dir is not None:
            chosen["state_dir"] = Path(state_dir)
        unknown = sorted(set(chosen) - set(cls.model_fields))
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
        path = _choose_stack_file(stack_file)
        token = _stack_file.set(path)
        try:
            return cls(**chosen)
        except ValidationError as error:
            raise SettingsError(_explain(error, path)) from None
        except SourceError as error:
            raise SettingsError(_explain_source(error)) from None
        finally:
            _stack_file.reset(token)

    def ports(self) -> dict[str, int]:
        """Every port the local stack listens on, by what listens there (with topology ha
        every replica, peer and gossip port too)."""
        from acgs_deploy.instances import instances

        ports = {}
        for instance in instances(self):
            ports[instance.name] = instance.port
            if instance.cluster_port is not None:
                ports[f"{instance.name} (cluster)"] = instance.cluster_port
        ports |= {
            "node_exporter": self.node_exporter_port,
            "grafana": self.grafana_port,
            "webhook": self.webhook_port,
        }
        from acgs_metrics.services import SERVICES

        for index, spec in enumerate(SERVICES):
            ports[f"acgs-{spec.name}"] = self.sim_base_port + index
        return ports


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _choose_stack_file(stack_file: Path | str | None) -> Path | None:
    if stack_file is not None:
        path = Path(stack_file)
        if not path.is_file():
            raise SettingsError(f"{path}: stack file not found")
        return path
    from_env = os.environ.get("ACGS_STACK_FILE")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise SettingsError(f"{path}: stack file named by ACGS_STACK_FILE not found")
        return path
    default = Path.cwd() / STACK_FILE_NAME
    return default if default.is_file() else None


def _explain_source(error: SourceError) -> str:
    """pydantic-settings could not parse a variable (a mapping setting that is not JSON)."""
    found = re.search(r'field "([^"]+)"', str(error))
    if found is None:
        return f"invalid settings from ACGS_* variables: {error}"
    field = found.group(1)
    return (
        f"ACGS_{field.upper()} ({field}): not a JSON object; give one, e.g. "
        f'ACGS_{field.upper()}=\'{{"cluster": "acgs-1"}}\', or unset it'
    )


def _explain(error: ValidationError, stack_file: Path | None) -> str:
    sources = "flags, ACGS_* variables" + (f" or {stack_file}" if stack_file else "")
    lines = [f"invalid settings (from {sources}):"]
    for problem in error.errors():
        if not problem["loc"]:  # a check across fields: its message names them
            lines.append(f"  {problem['msg'].removeprefix('Value error, ')}")
            continue
        field = ".".join(str(part) for part in problem["loc"])
        env = f"ACGS_{field.split('.')[0].upper()}"
        shown = "(hidden)" if field in SECRET_FIELDS else repr(problem.get("input"))
        lines.append(f"  {field} (env {env}): {problem['msg']}; got {shown}")
    return "\n".join(lines)
