"""The PromQL language tables: value types, functions, aggregators, operators, versions.

``FUNCTIONS[name].since`` and ``AGGREGATORS_SINCE[op]`` give the first Prometheus version
that has them; ``REMOVED_IN_3`` what Prometheus 3 dropped. The function groups at the end
(``COUNTER_FUNCTIONS``, ``TWO_SAMPLE_FUNCTIONS``, ...) are what the checks need to know about
a function beyond its signature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AGGREGATORS",
    "AGGREGATORS_SINCE",
    "COMPARISON_OPS",
    "COUNTER_FUNCTIONS",
    "COUNTING_AGGREGATORS",
    "FUNCTIONS",
    "GAUGE_FUNCTIONS",
    "KEYWORDS",
    "LABEL_ADDERS",
    "MATCHING_KEYWORDS",
    "PRECEDENCE",
    "REMOVED_IN_3",
    "SET_OPS",
    "TWO_SAMPLE_FUNCTIONS",
    "Function",
    "ValueType",
    "type_name",
    "version",
]


class ValueType(StrEnum):
    SCALAR = "scalar"
    VECTOR = "vector"
    MATRIX = "matrix"
    STRING = "string"


_S, _V, _M, _STR = ValueType.SCALAR, ValueType.VECTOR, ValueType.MATRIX, ValueType.STRING


def type_name(kind: ValueType) -> str:
    """``a scalar``, ``an instant vector``, ``a range vector``, ``a string``."""
    return {
        _S: "a scalar",
        _V: "an instant vector",
        _M: "a range vector",
        _STR: "a string",
    }[kind]


def version(text: str) -> tuple[int, ...]:
    """``"2.42"`` -> ``(2, 42)``, to compare Prometheus versions."""
    return tuple(int(p) for p in text.split(".") if p.isdigit())


@dataclass(frozen=True)
class Function:
    """A PromQL function's signature, with Prometheus's meaning of ``variadic``: when it is
    not 0 the last argument may be left out, and (if positive) up to ``variadic`` arguments
    may be given in its place; -1 means any number."""

    name: str
    args: tuple[ValueType, ...]
    returns: ValueType
    variadic: int = 0
    since: str = "2.0"  # first Prometheus version with this function

    @property
    def arity(self) -> tuple[int, float]:
        """Fewest and most arguments."""
        if self.variadic == 0:
            return len(self.args), len(self.args)
        least = len(self.args) - 1
        return least, (math.inf if self.variadic < 0 else least + self.variadic)


def _fn(
    name: str,
    args: str,
    returns: ValueType = _V,
    variadic: int = 0,
    since: str = "2.0",
) -> Function:
    kinds = {"s": _S, "v": _V, "m": _M, "S": _STR}
    return Function(name, tuple(kinds[a] for a in args), returns, variadic, since)


_MATH = "abs ceil exp floor ln log10 log2 sqrt sgn acos acosh asin asinh atan atanh cos cosh"
_MATH += " sin sinh tan tanh deg rad sort sort_desc timestamp"
_OVER_TIME = "avg min max sum count stddev stdvar last present absent"
_DATE = "day_of_month day_of_week day_of_year days_in_month hour minute month year"

FUNCTIONS: dict[str, Function] = {
    **{n: _fn(n, "v") for n in _MATH.split()},
    **{f"{n}_over_time": _fn(f"{n}_over_time", "m") for n in _OVER_TIME.split()},
    **{n: _fn(n, "v", variadic=1) for n in _DATE.split()},
    "absent": _fn("absent", "v"),
    "changes": _fn("changes", "m"),
    "clamp": _fn("clamp", "vss"),
    "clamp_max": _fn("clamp_max", "vs"),
    "clamp_min": _fn("clamp_min", "vs"),
    "delta": _fn("delta", "m"),
    "deriv": _fn("deriv", "m"),
    "histogram_quantile": _fn("histogram_quantile", "sv"),
    "holt_winters": _fn("holt_winters", "mss"),
    "idelta": _fn("idelta", "m"),
    "increase": _fn("increase", "m"),
    "irate": _fn("irate", "m"),
    "label_join": _fn("label_join", "vSSS", variadic=-1),
    "label_replace": _fn("label_replace", "vSSSS"),
    "pi": _fn("pi", "", _S),
    "predict_linear": _fn("predict_linear", "ms"),
    "quantile_over_time": _fn("quantile_over_time", "sm"),
    "rate": _fn("rate", "m"),
    "resets": _fn("resets", "m"),
    "round": _fn("round", "vs", variadic=1),
    "scalar": _fn("scalar", "v", _S),
    "time": _fn("time", "", _S),
    "vector": _fn("vector", "s"),
    # Native histograms (2.40+) and Prometheus 3 additions: flagged by promql/compat.
    "histogram_count": _fn("histogram_count", "v", since="2.40"),
    "histogram_sum": _fn("histogram_sum", "v", since="2.40"),
    "histogram_fraction": _fn("histogram_fraction", "ssv", since="2.40"),
    "histogram_avg": _fn("histogram_avg", "v", since="2.53"),
    "histogram_stddev": _fn("histogram_stddev", "v", since="2.46"),
    "histogram_stdvar": _fn("histogram_stdvar", "v", since="2.46"),
    "mad_over_time": _fn("mad_over_time", "m", since="2.46"),
    "sort_by_label": _fn("sort_by_label", "vS", variadic=-1, since="2.46"),
    "sort_by_label_desc": _fn("sort_by_label_desc", "vS", variadic=-1, since="2.46"),
    "double_exponential_smoothing": _fn("double_exponential_smoothing", "mss", since="3.0"),
    "info": _fn("info", "vv", variadic=1, since="3.0"),
}
# Gone (or behind a feature flag) in Prometheus 3: name -> what replaces it.
REMOVED_IN_3 = {"holt_winters": "double_exponential_smoothing (needs a feature flag)"}

# Aggregation operators; the value is the type of the parameter, if any.
AGGREGATORS: dict[str, ValueType | None] = {
    "sum": None,
    "avg": None,
    "min": None,
    "max": None,
    "count": None,
    "group": None,
    "stddev": None,
    "stdvar": None,
    "topk": _S,
    "bottomk": _S,
    "quantile": _S,
    "count_values": _STR,
    "limitk": _S,
    "limit_ratio": _S,
}
AGGREGATORS_SINCE = {"limitk": "3.0", "limit_ratio": "3.0"}

COMPARISON_OPS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
# Lower number binds looser.
PRECEDENCE = {
    "or": 1,
    "and": 2,
    "unless": 2,
    **dict.fromkeys(COMPARISON_OPS, 3),
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "atan2": 5,
    "^": 6,
}
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool"})
KEYWORDS |= {"offset", "and", "or", "unless", "atan2"}
MATCHING_KEYWORDS = frozenset({"bool", "on", "ignoring", "group_left", "group_right"})

# Functions that assume a counter and read every drop as a reset.
COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})
# Functions meant for gauges: on a counter they ignore resets.
GAUGE_FUNCTIONS = frozenset({"deriv", "delta", "idelta", "predict_linear"})
# Range functions that return nothing unless the window holds two samples.
TWO_SAMPLE_FUNCTIONS = COUNTER_FUNCTIONS | GAUGE_FUNCTIONS | {"changes", "holt_winters"}
# Aggregations that count series rather than combine their values.
COUNTING_AGGREGATORS = frozenset({"count", "group", "count_values"})
# Functions that write a label of their own.
LABEL_ADDERS = frozenset({"label_replace", "label_join"})
