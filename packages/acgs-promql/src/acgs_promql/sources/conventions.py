"""What a series name says about its type by the OpenMetrics naming conventions alone.

The last source the index asks: a name no other source knows gets a guessed type from its
suffix (``_total``, ``_bucket``/``_sum``/``_count``, ``_created``, ``_info``), so the
type-dependent checks still see ``x_total > 0`` or ``histogram_quantile`` over raw
``x_bucket``. A guess can be wrong (a gauge named ``queue_count``): checks relying on one
report a warning, never an error, and say that the type was guessed from the name.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Guess", "guess"]


@dataclass(frozen=True)
class Guess:
    type: str  # counter or gauge: what the series' samples behave like
    family: str | None  # the histogram or summary family of _bucket/_sum/_count
    suffix: str  # the suffix that says so, for messages


# suffix -> (sample type, whether the name without it is the family)
_SUFFIXES = (
    ("_total", "counter", False),
    ("_bucket", "counter", True),
    ("_count", "counter", True),
    ("_sum", "counter", True),
    ("_created", "gauge", False),
    ("_info", "gauge", False),
)


def guess(name: str) -> Guess | None:
    """The type ``name``'s suffix implies (None: the name says nothing; recorded names, with a
    ``:``, hold whatever their rule computes)."""
    if ":" in name:
        return None
    for suffix, kind, family in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return Guess(kind, name.removesuffix(suffix) if family else None, suffix)
    return None
