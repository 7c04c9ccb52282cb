"""``acgs-metrics``: print the metric catalog for people (markdown) or tools (json)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from acgs_metrics.catalog import CATALOG, Catalog


def catalog_json(catalog: Catalog = CATALOG) -> str:
    return json.dumps(catalog.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def catalog_markdown(catalog: Catalog = CATALOG) -> str:
    lines = [
        "# ACGS metric catalog",
        "",
        "| metric | type | unit | labels | help |",
        "| --- | --- | --- | --- | --- |",
    ]
    for spec in catalog:
        labels = []
        for label in spec.labels:
            if label.values is not None:
                labels.append(f"`{label.name}` ({'/'.join(label.values)})")
            else:
                labels.append(f"`{label.name}` (<= {label.max_values})")
        lines.append(
            f"| `{spec.name}` | {spec.type.value} | {spec.unit.value or '-'} | "
            f"{', '.join(labels) or '-'} | {spec.help} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="acgs-metrics", description="The ACGS governance metric catalog."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("catalog", help="print every metric: name, type, unit, labels")
    show.add_argument(
        "--format",
        choices=("json", "markdown"),
        default="markdown",
        help="json for tools (the linters read it), markdown for docs (default)",
    )
    args = parser.parse_args(argv)
    render = catalog_json if args.format == "json" else catalog_markdown
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
