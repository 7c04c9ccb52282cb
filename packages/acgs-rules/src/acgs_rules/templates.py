"""A static check of the Go templates Prometheus expands in alert labels and annotations.

:func:`check_template` returns problems (unclosed ``{{``, unbalanced ``if``/``range``/``end``,
unknown functions or variables) and :func:`label_references` the label names read through
``$labels.NAME``, ``.Labels.NAME`` or ``index $labels "NAME"``.
"""

from __future__ import annotations

import re

# Go text/template builtins and the functions Prometheus adds.
_FUNCTION_NAMES = """and or not len index slice print printf println html js urlquery call
eq ne lt le gt ge humanize humanize1024 humanizeDuration humanizePercentage humanizeTimestamp
toTime title toUpper toLower query first label value sortByLabel strvalue args tmpl safeHtml
match reReplaceAll graphLink tableLink externalURL pathPrefix parseDuration stripPort
stripDomain toDuration now"""
FUNCTIONS = frozenset(_FUNCTION_NAMES.split())
VARIABLES = frozenset({"$", "$labels", "$value", "$externalLabels", "$externalURL"})
_OPENERS = {"if", "range", "with", "define", "block"}
_ACTION = re.compile(r"{{(.*?)}}", re.S)
_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)*\'|:=|\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*'
    r"|\.[A-Za-z0-9_.]*|[A-Za-z_][A-Za-z0-9_]*|[0-9][0-9.eE+-]*|[|(),=]|\S"
)
_LABEL_REF = re.compile(
    r'(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*)|index\s+(?:\$labels|\.Labels)\s+"([^"]+)"'
)


def check_template(text: str) -> list[str]:
    """Problems in one template; empty when Prometheus would accept and expand it."""
    problems: list[str] = []
    if text.count("{{") != len(_ACTION.findall(text)):
        problems.append("'{{' without a closing '}}'")
    stack: list[str] = []
    declared: set[str] = set()
    for raw in _ACTION.findall(text):
        body = raw.strip()
        body = body.removeprefix("-").removesuffix("-").strip()
        if body.startswith("/*"):
            continue
        tokens = _TOKEN.findall(body)
        if not tokens:
            problems.append("empty action '{{ }}'")
            continue
        head = tokens[0]
        if head in _OPENERS:
            stack.append(head)
        elif head == "end":
            if not stack:
                problems.append("'{{ end }}' without an open if/range/with")
            else:
                stack.pop()
        elif head == "else" and not (stack and stack[-1] in ("if", "range", "with")):
            problems.append("'{{ else }}' outside if/range/with")
        if tokens.count("(") != tokens.count(")"):
            problems.append(f"unbalanced parentheses in '{{{{{raw}}}}}'")
        for index, token in enumerate(tokens):
            if token.startswith("$"):
                root = token.split(".", 1)[0]
                if index + 1 < len(tokens) and tokens[index + 1] in (":=", ","):
                    declared.add(root)
                elif root not in VARIABLES and root not in declared:
                    problems.append(f"undefined variable {root}")
            elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token):
                keywords = _OPENERS | {"end", "else", "template", "break", "continue"}
                if token in keywords or token in ("true", "false", "nil"):
                    continue
                if token not in FUNCTIONS:
                    problems.append(f"function {token!r} not defined")
    if stack:
        problems.append(f"'{{{{ {stack[-1]} }}}}' is never closed with '{{{{ end }}}}'")
    return problems


def label_references(text: str) -> set[str]:
    """Label names the template reads from the alert's series labels."""
    return {a or b for a, b in _LABEL_REF.findall(text)}
