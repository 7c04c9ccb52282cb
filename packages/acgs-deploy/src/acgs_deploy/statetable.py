"""The table of component states that deploy, status and reload print, and the hints below it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from acgs_deploy.backends.base import ComponentState

__all__ = ["print_states"]

COLOURS = {"healthy": "green", "unhealthy": "red", "stopped": "yellow"}


def print_states(console: Console, states: Sequence[ComponentState], *, title: str) -> None:
    """Component, URL, state (and the action taken, when any was); then each hint as is."""
    table = Table(title=title)
    table.add_column("component")
    table.add_column("URL")
    table.add_column("state")
    show_action = any(s.action for s in states)
    if show_action:
        table.add_column("action")
    for state in states:
        colour = COLOURS.get(state.state, "dim")
        # Names and URLs as they are: an IPv6 URL or a path may hold brackets.
        row = [escape(state.name), escape(state.url), f"[{colour}]{escape(state.state)}[/{colour}]"]
        if show_action:
            row.append(state.action)
        table.add_row(*row)
    console.print(table)
    for state in states:
        if state.hint:
            console.print(f"{state.name}: {state.hint}", soft_wrap=True, markup=False)
