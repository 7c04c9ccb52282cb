"""``acgs-sim``: run the demo ACGS services, or inject faults into running ones.

Exit codes: 0 success (including a clean stop on SIGTERM or Ctrl-C), 1 failure (a port in
use, a refused fault, a service that cannot be reached), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import ssl
import stat
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from acgs_metrics import SERVICE_NAMES, SERVICES
from acgs_metrics.exposition import BasicAuth, TLSConfig
from acgs_sim.behaviour import behaviour_for
from acgs_sim.faults import FAULT_DEFAULTS, FaultName
from acgs_sim.infra import add_infra_options, backends_from_args, via_from_args
from acgs_sim.service import CONTROL_PATH
from acgs_sim.simulator import DEFAULT_BASE_PORT, TICK_S, SimError, Simulator, service_port

__all__ = ["main"]

BASIC_AUTH_ENV = "ACGS_SIM_BASIC_AUTH"

log = logging.getLogger("acgs_sim")

REPLICAS_HELP = (
    "instances of each service; instance r of service i listens on base port + r*7 + i "
    "and takes 1/N of the service's traffic (%(default)s)"
)


class UsageError(Exception):
    """Bad input on the command line or in a file it names (exit code 2)."""


def _fault_help() -> str:
    lines = []
    for name, spec in FAULT_DEFAULTS.items():
        where = [s for s in SERVICE_NAMES if behaviour_for(s).supports(name)]
        lines.append(
            f"  {name.value:<16} value = {spec.meaning} (default {spec.default:g}); "
            f"services: {'all' if len(where) == len(SERVICE_NAMES) else ', '.join(where)}"
        )
    return "\n".join(lines)


def _service_help() -> str:
    return "\n".join(f"  {s.name:<10} {s.title} (base port + {i})" for i, s in enumerate(SERVICES))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acgs-sim",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run the seven ACGS governance services as demo HTTP servers. Each serves GET "
            "/metrics (its own registry), GET /health, a few API routes that background traffic "
            "calls, and the fault control endpoint GET/POST/DELETE /control/faults."
        ),
        epilog=(
            f"services:\n{_service_help()}\n\nfaults (acgs-sim fault --help):\n{_fault_help()}\n\n"
            "examples:\n"
            "  acgs-sim                                  # all services on 8000..8006\n"
            "  acgs-sim --base-port 18000 --services gs,pgc\n"
            "  acgs-sim --redis 127.0.0.1:6379 --postgres 127.0.0.1:5432 "
            "--via http://127.0.0.1:8080\n"
            "  acgs-sim --base-port 18000 --replicas 20       # 140 instances on 18000..18139\n"
            "  acgs-sim fault --port 8004 slow_synthesis --value 12 --duration 120\n"
            "  acgs-sim fault --port 8004 --clear\n\n"
            f"Basic auth: --basic-auth-file FILE (one line user:password, mode 0600) or the "
            f"{BASIC_AUTH_ENV} environment variable; never on the command line."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        help="port of auth; the others follow in the order below (%(default)s)",
    )
    parser.add_argument(
        "--services",
        default=",".join(SERVICE_NAMES),
        help="comma-separated services to run (default: all seven)",
    )
    parser.add_argument("--replicas", type=int, default=1, help=REPLICAS_HELP)
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="private key of --tls-cert (PEM)")
    parser.add_argument(
        "--tls-client-ca", type=Path, help="require client certificates signed by this CA"
    )
    _add_basic_auth_file(parser, "require these basic auth credentials on every request")
    parser.add_argument(
        "--tick", type=float, default=TICK_S, help="seconds between gauge updates (%(default)s)"
    )
    parser.add_argument(
        "--traffic-scale",
        type=float,
        default=1.0,
        help="multiply the background API request rates (0 = no traffic) (%(default)s)",
    )
    parser.add_argument("--seed", type=int, help="random seed, for repeatable runs")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    add_infra_options(parser)

    sub = parser.add_subparsers(dest="command", metavar="{fault}")
    fault = sub.add_parser(
        "fault",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="inject, list or clear faults on a running service",
        description="Inject a fault into a running acgs-sim service, list or clear its faults.",
        epilog=f"faults:\n{_fault_help()}",
    )
    fault.add_argument("name", nargs="?", choices=[f.value for f in FaultName], metavar="NAME")
    fault.add_argument("--port", type=int, required=True, help="the service's port")
    fault.add_argument("--host", default="127.0.0.1", help="the service's host (%(default)s)")
    fault.add_argument("--value", type=float, help="fault value (see the list below)")
    fault.add_argument(
        "--duration", type=float, help="seconds the fault lasts (default: until cleared)"
    )
    action = fault.add_mutually_exclusive_group()
    action.add_argument("--clear", action="store_true", help="clear every fault of the service")
    action.add_argument("--list", action="store_true", help="list the service's active faults")
    fault.add_argument("--tls-ca", type=Path, help="use HTTPS and trust this CA certificate")
    _add_basic_auth_file(fault, "send these basic auth credentials")
    return parser


def _add_basic_auth_file(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--basic-auth-file",
        type=Path,
        help=f"{what}: a file holding one line user:password (mode 0600); "
        f"else ${BASIC_AUTH_ENV} when set",
    )


def load_basic_auth(path: Path | None) -> BasicAuth | None:
    """Credentials from ``path`` (one line ``user:password``, not readable by others) or env."""
    if path is not None:
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--basic-auth-file {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(
                f"--basic-auth-file {path}: not UTF-8 text; write one line user:password"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(
                f"--basic-auth-file {path}: readable by group or others "
                f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
            )
        source, line = f"--basic-auth-file {path} line 1", text.splitlines()[0] if text else ""
    elif os.environ.get(BASIC_AUTH_ENV):
        source, line = f"${BASIC_AUTH_ENV}", os.environ[BASIC_AUTH_ENV]
    else:
        return None
    username, sep, password = line.strip().partition(":")
    if not sep or not username or not password:
        raise UsageError(f"{source}: expected user:password (the value is not shown)")
    try:
        return BasicAuth(username, password)
    except ValueError as error:
        raise UsageError(f"{source}: {error}") from None


# --- run -----------------------------------------------------------------------------


def run(args: argparse.Namespace, console: Console) -> int:
    services = [name.strip() for name in args.services.split(",") if name.strip()]
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together; give both or neither")
    if args.tls_client_ca is not None and args.tls_cert is None:
        raise UsageError("--tls-client-ca needs --tls-cert and --tls-key")
    if args.replicas < 1:
        raise UsageError(f"--replicas must be 1 or more, got {args.replicas}")
    if not (math.isfinite(args.tick) and args.tick > 0):
        raise UsageError(f"--tick must be a number above 0, got {args.tick:g}")
    if not (math.isfinite(args.traffic_scale) and args.traffic_scale >= 0):
        raise UsageError(f"--traffic-scale must be a number, 0 or more, got {args.traffic_scale:g}")
    tls = None
    if args.tls_cert is not None:
        tls = TLSConfig(args.tls_cert, args.tls_key, args.tls_client_ca)
    try:
        via = via_from_args(args)
        backends = backends_from_args(args)
    except ValueError as error:
        raise UsageError(str(error)) from None
    simulator = Simulator(
        services,
        host=args.host,
        base_port=args.base_port,
        tls=tls,
        basic_auth=load_basic_auth(args.basic_auth_file),
        tick_s=args.tick,
        traffic_scale=args.traffic_scale,
        seed=args.seed,
        backends=backends,
        via=via,
        replicas=args.replicas,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    simulator.start()
    try:
        console.print(_listing(simulator))
        for line in _infra_lines(args):
            console.print(f"acgs-sim: {line}", highlight=False)
        console.print("acgs-sim: ready (Ctrl-C or SIGTERM stops it)", highlight=False)
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping")
        simulator.stop()
    console.print("acgs-sim: stopped", highlight=False)
    return 0


def _infra_lines(args: argparse.Namespace) -> list[str]:
    lines = []
    if args.redis:
        lines.append(f"redis {args.redis} (principle cache, sessions)")
    if args.postgres:
        lines.append(f"postgresql {args.postgres} database {args.postgres_db} (actions, decisions)")
    if args.via:
        lines.append(f"traffic via {args.via}/<service>")
    return lines


def _listing(simulator: Simulator) -> Table:
    """One row per service; in a fleet, its instances' ports instead of the metrics URL."""
    table = Table(title="acgs-sim", show_edge=False)
    fleet = simulator.replicas > 1
    for column in ("service", "url", "instances" if fleet else "metrics", "faults it takes"):
        table.add_column(column)
    for service in simulator.services[: len(simulator.services) // simulator.replicas]:
        url = simulator.url(service.name)
        third = f"{url}/metrics"
        if fleet:
            first = service_port(service.name, simulator.base_port)
            last = service_port(service.name, simulator.base_port, simulator.replicas - 1)
            third = f"{simulator.replicas}: ports {first}..{last} step {len(SERVICE_NAMES)}"
        table.add_row(service.name, url, third, ", ".join(service.supported_faults))
    return table


# --- fault ---------------------------------------------------------------------------


def fault(args: argparse.Namespace, console: Console) -> int:
    if not (args.clear or args.list) and args.name is None:
        raise UsageError("name a fault to inject, or give --clear or --list")
    if (args.clear or args.list) and (args.name or args.value is not None or args.duration):
        raise UsageError("--clear and --list take no fault name, --value or --duration")
    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be 1..65535, got {args.port}")
    for flag, number in (("--value", args.value), ("--duration", args.duration)):
        if number is not None and not math.isfinite(number):
            raise UsageError(f"{flag} must be a finite number, got {number:g}")
    auth = load_basic_auth(args.basic_auth_file)
    verify = _trust(args.tls_ca)
    scheme = "https" if args.tls_ca else "http"
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"{scheme}://{host}:{args.port}"
    with httpx.Client(
        base_url=base,
        verify=verify,
        auth=(auth.username, auth.password) if auth else None,
        timeout=5.0,
    ) as client:
        try:
            if args.clear:
                response = client.delete(CONTROL_PATH)
            elif args.list:
                response = client.get(CONTROL_PATH)
            else:
                body: dict[str, Any] = {"fault": args.name}
                if args.value is not None:
                    body["value"] = args.value
                if args.duration is not None:
                    body["duration_s"] = args.duration
                response = client.post(CONTROL_PATH, json=body)
        except httpx.HTTPError as error:
            print(f"acgs-sim fault: cannot reach {base}: {error}", file=sys.stderr)
            return 1
    try:
        payload = response.json()
    except json.JSONDecodeError:
        payload = {"error": response.text.strip()}
    if response.is_error:
        message = payload.get("error") if isinstance(payload, dict) else payload
        print(f"acgs-sim fault: {base}: HTTP {response.status_code}: {message}", file=sys.stderr)
        return 1
    shown = _faults_shown(args, payload)
    if shown is None:
        print(
            f"acgs-sim fault: {base}{CONTROL_PATH} did not answer like an acgs-sim service "
            f"(HTTP {response.status_code}, {response.text[:80]!r}); check --port and --host",
            file=sys.stderr,
        )
        return 1
    if args.clear:
        console.print(f"{base}: cleared {payload['cleared']} fault(s)", highlight=False)
    else:
        _print_faults(console, base, shown)
    return 0


def _faults_shown(args: argparse.Namespace, payload: object) -> list[dict[str, Any]] | None:
    """The faults to print from a control endpoint's answer, or None when it is not one."""
    if args.clear:
        return [] if isinstance(payload, dict) and "cleared" in payload else None
    faults = payload if args.list else [payload]
    if isinstance(faults, list) and all(
        isinstance(item, dict) and "fault" in item for item in faults
    ):
        return faults
    return None


def _trust(ca_file: Path | None) -> ssl.SSLContext | bool:
    """The client's certificate check: the system's, or only ``ca_file`` (--tls-ca)."""
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise UsageError(
            f"--tls-ca {ca_file}: cannot load a CA certificate ({reason}); "
            "give the PEM file of the CA that signed the service's certificate"
        ) from None


def _print_faults(console: Console, base: str, faults: list[dict[str, Any]]) -> None:
    if not faults:
        console.print(f"{base}: no active faults", highlight=False)
        return
    columns = ("fault", "value", "duration_s", "remaining_s", "started_at")
    table = Table(*columns, title=f"faults at {base}", show_edge=False)
    for item in faults:
        table.add_row(*(str(item.get(key)) for key in columns))
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(soft_wrap=True)
    logging.basicConfig(
        # The fault client is a one-shot command: only warnings and errors on stderr.
        level="WARNING" if args.command == "fault" else args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO: the --via traffic would flood the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.command == "fault":
            return fault(args, console)
        return run(args, console)
    except UsageError as error:
        parser.exit(2, f"acgs-sim: error: {error}\n")
    except SimError as error:
        print(f"acgs-sim: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
