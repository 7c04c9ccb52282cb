"""The README's python blocks run: in the workspace, and in a fresh venv with only this package.

Blocks run in order in one process (they build on each other), from a directory that holds
``certs/`` (made by the ``certs`` fixture) with ``METRICS_PASSWORD`` set. A block whose first
line is ``# needs: <framework>`` is only compiled: that framework is not a dependency.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from acgs_testkit.ca import Certs
from acgs_testkit.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "packages" / "acgs-metrics"
README = PACKAGE / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)

# Runs each block with its README line in tracebacks; compiles the "needs:" ones.
RUNNER = r"""
import importlib.util, json, sys
namespace = {"__name__": "__readme__"}
for line, source in json.load(open(sys.argv[1])):
    # Padded so that tracebacks show README.md's own line numbers.
    code = compile("\n" * (line - 1) + source, "README.md", "exec")
    first = source.split("\n", 1)[0]
    if first.startswith("# needs:"):
        module = first.removeprefix("# needs:").split()[0]
        if importlib.util.find_spec(module) is None:
            print(f"README.md:{line}: compiled only ({module} is not installed)")
            continue
    exec(code, namespace)
print("README OK")
"""


def readme_blocks() -> list[tuple[int, str]]:
    text = README.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in FENCE.finditer(text)]


def run_readme(python: str, workdir: Path, certs: Certs) -> subprocess.CompletedProcess[str]:
    (workdir / "certs").mkdir(exist_ok=True)
    for name, source in [
        ("ca.crt", certs.ca),
        ("server.crt", certs.server_cert),
        ("server.key", certs.server_key),
    ]:
        shutil.copy(source, workdir / "certs" / name)
    blocks = workdir / "blocks.json"
    blocks.write_text(json.dumps(readme_blocks()))
    runner = workdir / "run_readme.py"
    runner.write_text(RUNNER)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PROMETHEUS_MULTIPROC_DIR", "ACGS_METRICS_STRICT", "PYTHONPATH"}
    }
    env["METRICS_PASSWORD"] = "readme-example-password"
    return subprocess.run(
        [python, str(runner), str(blocks)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_readme_has_the_promised_sections() -> None:
    blocks = readme_blocks()
    sources = "\n".join(source for _, source in blocks)
    for needle in ("TLSConfig", "BasicAuth", "make_wsgi_app", "make_asgi_app", "mark_process_dead"):
        assert needle in sources, needle
    assert sum(not source.startswith("# needs:") for _, source in blocks) >= 5


def test_readme_examples_run(tmp_path: Path, certs: Certs) -> None:
    done = run_readme(sys.executable, tmp_path, certs)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("README OK")
    assert "'maybe' is not allowed for label 'result'" in done.stdout
    # starlette is a dev dependency: its block ran; gunicorn is not: compiled only.
    assert "starlette is not installed" not in done.stdout
    assert "(gunicorn is not installed)" in done.stdout
    assert "readme-example-password" not in done.stdout + done.stderr


def test_installs_alone_in_a_fresh_venv_and_runs_the_readme(tmp_path: Path, certs: Certs) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH; install it (pip install uv) to run this test")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = [uv, "pip", "install", "--quiet", "--python", python, str(PACKAGE)]
    # From uv's cache when it has everything (no network needed), else from the index.
    done = subprocess.run([*install, "--offline"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        done = subprocess.run(install, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    # Only this package and its declared dependencies: no workspace sibling leaked in.
    listed = subprocess.run(
        [uv, "pip", "list", "--python", python, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {entry["name"] for entry in json.loads(listed.stdout)}
    assert "acgs-metrics" in names
    assert not names & {"acgs-rules", "acgs-deploy", "acgs-sim", "httpx", "cryptography"}
    catalog = subprocess.run(
        [str(venv / "bin" / "acgs-metrics"), "catalog", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "acgs_constitutional_compliance_score" in catalog.stdout
    workdir = tmp_path / "work"
    workdir.mkdir()
    ran = run_readme(python, workdir, certs)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().endswith("README OK")
    assert "(starlette is not installed)" in ran.stdout


def test_root_readme_library_quick_start_runs(tmp_path: Path) -> None:
    root_readme = REPO_ROOT / "README.md"
    section = root_readme.read_text().split("## The library", 1)[1].split("\n## ", 1)[0]
    (block,) = FENCE.findall(section)
    check = (
        "import urllib.request\n"
        "body = urllib.request.urlopen(server.url + '/metrics').read().decode()\n"
        'assert \'acgs_constitutional_compliance_score{principle_id="P-001",service="gs"} '
        "0.97' in body\n"
        'assert \'acgs_policy_synthesis_duration_seconds_count{service="gs",'
        'synthesis_type="constitutional"} 1.0\' in body\n'
        "server.shutdown()\n"
    )
    script = tmp_path / "quick_start.py"
    script.write_text(block + check)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
