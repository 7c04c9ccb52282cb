"""PromQL tokens, and :class:`PromQLError`, the one error for text Prometheus would reject.

``tokenize(text)`` returns the tokens (kind, text, position); comments and whitespace are
dropped, and an ``eof`` token ends the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from acgs_promql.durations import DURATION

__all__ = ["PromQLError", "Token", "tokenize"]


class PromQLError(ValueError):
    """A PromQL expression Prometheus would reject; says where and why.

    ``position`` is a 0-based character offset; ``line`` and ``column`` are 1-based.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        self.message = message
        self.position = max(0, min(position, len(text)))
        before = text[: self.position]
        self.line = before.count("\n") + 1
        self.column = self.position - (before.rfind("\n") + 1) + 1
        super().__init__(f"{message} (line {self.line}, column {self.column})")


@dataclass(frozen=True)
class Token:
    kind: str  # ident, number, duration, string, op, eof
    text: str
    pos: int
    value: object = None


_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII
)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OPS = ("=~", "!~", "!=", "==", ">=", "<=", "+", "-", "*", "/", "%", "^", "<", ">", "=")
_PUNCT = "(){}[],@:"
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _escape(text: str, i: int) -> tuple[str, int]:
    """The character an escape sequence stands for (``text[i]`` follows the backslash),
    and the index of the escape's last character."""
    esc = text[i]
    if esc in _ESCAPES:
        return _ESCAPES[esc], i
    if esc in "\\'\"":
        return esc, i
    if esc in "xuU01234567":
        digits = {"x": 2, "u": 4, "U": 8}.get(esc, 3)
        first = i + 1 if esc in "xuU" else i
        code = text[first : first + digits]
        base = 8 if esc not in "xuU" else 16
        try:
            return chr(int(code, base)), first + digits - 1
        except ValueError:
            raise PromQLError(f"bad escape \\{esc}{code}", text, i) from None
    raise PromQLError(f"unknown escape sequence \\{esc}", text, i)


def _read_string(text: str, start: int) -> tuple[str, int]:
    """The value of the string literal at ``start`` and the index just after it."""
    quote = text[start]
    i = start + 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\n" and quote != "`":
            raise PromQLError("unterminated string (newline inside quotes)", text, start)
        if ch == "\\" and quote != "`":
            i += 1
            if i >= len(text):
                break
            value, i = _escape(text, i)
            out.append(value)
        else:
            out.append(ch)
        i += 1
    raise PromQLError("unterminated string", text, start)


def _number_or_duration(text: str, i: int) -> Token:
    """The number or duration token at ``i`` (a digit, or a dot before one)."""
    dur = DURATION.match(text, i)
    num = _NUMBER.match(text, i)
    if dur and (not num or dur.end() > num.end()):
        return Token("duration", dur.group(), i)
    assert num is not None
    end = num.end()
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        raise PromQLError(f"bad number or duration {text[i : end + 1]!r}", text, i)
    raw = num.group()
    number = float(int(raw, 16)) if raw[:2].lower() == "0x" else float(raw)
    return Token("number", raw, i, number)


def _operator(text: str, i: int) -> Token:
    for op in _OPS:
        if text.startswith(op, i):
            return Token("op", op, i)
    if text[i] in _PUNCT:
        return Token("op", text[i], i)
    raise PromQLError(f"unexpected character {text[i]!r}", text, i)


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; comments (``# ...``) and whitespace are dropped."""
    tokens: list[Token] = []
    brackets: list[str] = []  # inside [...] a colon is the subquery separator
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "([{":
            brackets.append(ch)
        elif ch in ")]}" and brackets:
            brackets.pop()
        if ch in " \t\r\n":
            i += 1
            continue
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == ":" and brackets and brackets[-1] == "[":
            token = Token("op", ch, i)
        elif ch in "\"'`":
            value, end = _read_string(text, i)
            token = Token("string", text[i:end], i, value)
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            token = _number_or_duration(text, i)
        elif ident := _IDENT.match(text, i):
            word = ident.group()
            if word.lower() in ("inf", "nan"):
                token = Token("number", word, i, float(word))
            else:
                token = Token("ident", word, i)
        else:
            token = _operator(text, i)
        tokens.append(token)
        i = token.pos + len(token.text)
    tokens.append(Token("eof", "", n))
    return tokens
