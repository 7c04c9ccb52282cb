"""The table of component states that deploy, status and reload print, and the hints below it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from acgs_deploy.backends.base import ComponentState

__all__ = ["print_states", "print_states_json"]

COLOURS = {"healthy": "green", "unhealthy": "red", "stopped": "yellow"}


def print_states(console: Console, states: Sequence[ComponentState], *, title: str) -> None:
    """Component, URL, state (and the action taken, when any was); then each hint as is."""
    table = Table(title=title)
    table.add_column("component")
    show_role = any(s.role for s in states)
    if show_role:
        table.add_column("role")
    table.add_column("URL")
    table.add_column("state")
    show_action = any(s.action for s in states)
    if show_action:
        table.add_column("action")
    for state in states:
        colour = COLOURS.get(state.state, "dim")
        # Names and URLs as they are: an IPv6 URL or a path may hold brackets.
        row = [escape(state.name), *([escape(state.role)] if show_role else []), escape(state.url),
               f"[{colour}]{escape(state.state)}[/{colour}]"]  # fmt: skip
        if show_action:
            row.append(state.action)
        table.add_row(*row)
    console.print(table)
    for state in states:
        if state.hint:
            console.print(f"{state.name}: {state.hint}", soft_wrap=True, markup=False)


def print_states_json(
    console: Console, states: Sequence[ComponentState], topology: str, notes: Sequence[str]
) -> None:
    """``{"topology": ..., "healthy": ..., "components": [{name, role, url, state, pid,
    hint}], "notes": [...]}``: every replica and peer, for scripts."""
    body = {
        "topology": topology,
        "healthy": all(s.state in ("healthy", "not installed") for s in states),
        "components": [
            {
                "name": s.name,
                "role": s.role or s.name,
                "url": s.url,
                "state": s.state,
                "pid": s.pid,
                "hint": s.hint,
            }
            for s in states
        ],
        "notes": list(notes),
    }
    console.print_json(json.dumps(body))
