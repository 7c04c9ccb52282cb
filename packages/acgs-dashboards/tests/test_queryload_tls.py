"""acgs-dashboards queryload against a real Prometheus that demands TLS and basic auth."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from acgs_dashboards.cli import main
from acgs_dashboards.testing import free_port

PASSWORD = "correct horse battery"


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # libxcrypt's bcrypt: what Prometheus' web config wants

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))  # noqa: S324 (bcrypt)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    state = tmp_path_factory.mktemp("tls")
    cert, key = state / "cert.pem", state / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (state / "web.yml").write_text(
        f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n"
        f"basic_auth_users: {{admin: '{_bcrypt(PASSWORD)}'}}\n"
    )
    (state / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    port = free_port()
    with (state / "log").open("wb") as log:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={state / 'prometheus.yml'}",
                f"--storage.tsdb.path={state / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.config.file={state / 'web.yml'}",
            ],
            stdout=log,
            stderr=log,
        )
        try:
            url = f"https://127.0.0.1:{port}"
            context = ssl.create_default_context(cafile=str(cert))
            with httpx.Client(verify=context, auth=("admin", PASSWORD)) as client:
                deadline = time.monotonic() + 20
                while True:
                    assert process.poll() is None, (state / "log").read_text()
                    assert time.monotonic() < deadline, "prometheus did not get ready"
                    try:
                        if client.get(f"{url}/-/ready").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
            yield url, cert
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_queryload_over_tls_with_basic_auth(
    secured: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, ca = secured
    board = tmp_path / "b.json"
    board.write_text(
        json.dumps(
            {
                "title": "one",
                "uid": "one",
                "time": {"from": "now-5m", "to": "now"},
                "panels": [{"type": "stat", "title": "p", "targets": [{"expr": "vector(1)"}]}],
            }
        )
    )
    args = ["queryload", str(board), "--url", url, "--ca-file", str(ca), "--format", "json"]
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    assert main([*args, "--username", "admin"]) == 0
    out = capsys.readouterr().out
    (report,) = json.loads(out)
    assert report["panels"][0]["series"] == 1
    assert PASSWORD not in out
    monkeypatch.setenv("PROMETHEUS_PASSWORD", "wrong")
    assert main([*args, "--username", "admin"]) == 1  # every query answered 401
    (report,) = json.loads(capsys.readouterr().out)
    # The status and what the server said, not "Expecting value: line 1 column 1".
    (query,) = report["panels"][0]["queries"]
    assert query["error"].startswith("HTTP 401 Unauthorized, not a Prometheus JSON reply: ")
    assert "Unauthorized" in query["error"].split(": ", 1)[1]
    assert main([a for a in args if a not in ("--ca-file", str(ca))] + ["--username", "admin"]) == 1


def test_variable_errors_are_shown_in_the_table_and_json(
    secured: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, ca = secured
    board = tmp_path / "v.json"
    variable = {"name": "job", "type": "query", "query": "label_values(up{, job)"}
    board.write_text(
        json.dumps(
            {
                "title": "vars",
                "uid": "vars",
                "time": {"from": "now-5m", "to": "now"},
                "templating": {"list": [variable]},
                "panels": [{"type": "stat", "title": "p", "targets": [{"expr": "vector(1)"}]}],
            }
        )
    )
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    args = ["queryload", str(board), "--url", url, "--ca-file", str(ca), "--username", "admin"]
    assert main([*args, "--format", "json"]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    (error,) = report["variable_errors"]
    assert error.startswith("variable $job: ")
    assert "parse error" in error
    assert main(args) == 1
    table = capsys.readouterr().out
    assert "(variables)" in table
    assert "$job" in table
    assert "parse" in table
