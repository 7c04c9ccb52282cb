"""Every check, in the order their findings are reported. Add a check: one module, one line."""

from __future__ import annotations

from acgs_dashboards.lint.base import Check
from acgs_dashboards.lint.checks import (
    datasource,
    duplicates,
    legacy,
    panel_basics,
    schema,
    variables,
)

CHECKS: tuple[Check, ...] = (
    schema.CHECK,
    duplicates.UID,
    duplicates.TITLE,
    duplicates.PANELS,
    datasource.REFERENCE,
    datasource.VARIABLE,
    variables.REFRESH,
    legacy.CHECK,
    panel_basics.TARGETS,
    panel_basics.TITLE_DESCRIPTION,
    panel_basics.UNITS,
)
