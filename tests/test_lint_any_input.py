"""Any input ends in findings or one clear error line, never a traceback (issue 15).

Both linters' commands, run in process on garbage, huge and deeply nested files given as
rules, dashboards, settings (``acgs-lint.yml``) and service code (``--source``); and
hypothesis-made Python for the code reader.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acgs_dashboards.cli import main as dashboards_main
from acgs_promql.sources.code import read_code
from acgs_rules.cli import main as rules_main

DEEP = 20_000
GARBAGE: dict[str, bytes] = {
    "binary": bytes(range(256)) * 4,
    "nested-lists": b"[" * DEEP + b"]" * DEEP,
    "nested-maps": b"a: " * 2_000 + b"b\n",
    "nested-block": "".join(f"{'  ' * i}k{i}:\n" for i in range(3_000)).encode(),
    "alias-bomb": (
        b"a: &a [x, x, x, x, x, x, x, x, x]\n"
        + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n".encode()
            for i in range(8)
        )
        + b"rule_files: *i\ntests: [*i]\ngroups: [*i]\n"
    ),
    "huge": b"groups:\n" + b"  - name: g\n    rules: []\n" * 300_000,
    "not-a-mapping": b"- 1\n- 2\n",
    "json-garbage": b'{"panels": [{"targets": [{"expr": 5}]}], "title": ["x"]}',
    "tabs": b"groups:\n\t- name: g\n",
}
Main = Callable[[list[str]], int]
# command -> (its main, its arguments given a YAML file and a JSON file)
COMMANDS: dict[str, tuple[Main, Callable[[Path, Path], list[str]]]] = {
    "rules": (rules_main, lambda yml, _: ["lint", "--no-promtool", str(yml)]),
    "dashboards": (dashboards_main, lambda yml, board: ["lint", "--rules", str(yml), str(board)]),
}


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) <= 1, err


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_inputs_end_in_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str
) -> None:
    main, args = COMMANDS[command]
    path = tmp_path / f"{name}.yml"
    path.write_bytes(GARBAGE[name])
    board = tmp_path / f"{name}.json"
    board.write_bytes(GARBAGE[name])
    (tmp_path / f"{name}.py").write_bytes(b"import prometheus_client\n" + GARBAGE[name])
    code = main([*args(path, board), "--source", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code in (0, 1), out + err
    _no_traceback(err)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_settings_are_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str
) -> None:
    main, args = COMMANDS[command]
    settings_file = tmp_path / "acgs-lint.yml"
    settings_file.write_bytes(GARBAGE[name])
    rules = tmp_path / "r.yml"
    rules.write_text("groups: []\n")
    board = tmp_path / "b.json"
    board.write_text("{}")
    code = main([*args(rules, board), "--settings", str(settings_file)])
    out, err = capsys.readouterr()
    if code == 2:
        assert str(settings_file) in err
    else:
        assert code in (0, 1), out + err
    _no_traceback(err)


def test_deeply_nested_and_huge_python_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text("import prometheus_client\nx = " + "[" * DEEP + "]" * DEEP)
    (tmp_path / "calls.py").write_text(
        "from prometheus_client import Counter\nC = Counter(" + "str(" * 3_000 + ")" * 3_001
    )
    (tmp_path / "big.py").write_text("import prometheus_client\n" + "x = 1\n" * 1_000_000)
    code = read_code([tmp_path], max_file_size=1_000_000)
    assert code.found == ()
    assert sorted(Path(f.path).name for f in code.findings) == ["big.py", "calls.py", "deep.py"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "Counter(",
                "Gauge(",
                "Histogram(",
                "Enum(",
                "MetricSpec(",
                "LabelSpec(",
                "name=",
                "labelnames=",
                "namespace=",
                "unit=",
                "labels=",
                "type=MetricType.COUNTER",
                '"x"',
                "N",
                "f'{N}_y'",
                "[",
                "]",
                "(",
                ")",
                ",",
                "+",
                "\n",
                "N = ",
                "None",
                "1",
            ]
        )
        | st.text(string.printable, max_size=5),
        max_size=40,
    )
)
def test_any_python_gives_families_or_findings(tokens: list[str]) -> None:
    header = (
        "from prometheus_client import Counter, Gauge, Histogram, Enum\n"
        "from acgs_metrics import MetricSpec, LabelSpec, MetricType\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.py").write_text(header + " ".join(tokens))
        code = read_code([Path(tmp)])
    assert len(code.findings) <= 1
    for family in code.found:
        assert family.name
        assert family.labels is None or all(isinstance(label, str) for label in family.labels)
