"""The one walk: every node once, in source order, with the context checks read."""

from __future__ import annotations

from acgs_promql.parser import parse
from acgs_promql.tree import AggregateExpr, Call, Expr, VectorSelector, walk
from acgs_promql.walker import Visit, Walk


def _selector(walked: Walk, name: str) -> Visit:
    return next(
        v
        for v in walked.of_kind(VectorSelector)
        if isinstance(v.node, VectorSelector) and v.node.name == name
    )


def test_every_node_once_in_source_order() -> None:
    tree = parse("sum by (job) (rate(a[5m])) / on (job) group_left () max(b) > bool 1")
    walked = Walk(tree)
    assert [v.node for v in walked.visits] == list(walk(tree))
    assert [v.index for v in walked.visits] == list(range(len(walked.visits)))
    root = walked.root
    assert root.end == len(walked.visits)
    assert walked.below(root) == walked.visits[1:]


def test_function_window_and_aggregations() -> None:
    walked = Walk(parse("max_over_time(sum by (job) (rate(a[1m]))[1h:5m]) + abs((b))"))
    a, b = _selector(walked, "a"), _selector(walked, "b")
    assert (a.function, a.window, a.aggregations) == ("rate", 60.0, ("sum",))
    assert (b.function, b.window, b.aggregations) == ("abs", None, ())
    (summed,) = walked.of_kind(AggregateExpr)
    assert (summed.function, summed.window) == ("max_over_time", 3600.0)  # via the subquery
    (rate,) = [v for v in walked.of_kind(Call) if getattr(v.node, "func", "") == "rate"]
    assert (rate.function, rate.window) == (None, None)  # an aggregation resets both


def test_value_side_through_joins_filters_and_parameters() -> None:
    walked = Walk(
        parse(
            "histogram_quantile(0.9, rate(x_bucket[5m]) * on (instance) group_left () up)"
            " and on () topk(scalar(k), y) unless z"
        )
    )
    quantile = next(
        v for v in walked.of_kind(Call) if getattr(v.node, "func", "") == "histogram_quantile"
    )
    values = {
        name: (
            _selector(walked, name).on_value_side,
            _selector(walked, name).supplies_values_to(quantile),
        )
        for name in ("x_bucket", "up")
    }
    assert values == {"x_bucket": (True, True), "up": (False, False)}
    assert not _selector(walked, "y").on_value_side  # right of and
    assert not _selector(walked, "k").on_value_side  # topk's parameter
    assert not _selector(walked, "z").on_value_side  # right of unless


def test_subtree_of_a_child_and_ancestors() -> None:
    walked = Walk(parse("topk(scalar(k), sum(y))"))
    (top,) = walked.of_kind(AggregateExpr)[:1]
    assert isinstance(top.node, AggregateExpr)
    inner: list[Expr] = [v.node for v in walked.subtree(top, top.node.expr)]
    assert [n.name for n in inner if isinstance(n, VectorSelector)] == ["y"]
    y = _selector(walked, "y")
    assert [type(a.node).__name__ for a in y.ancestors()] == ["AggregateExpr", "AggregateExpr"]
    assert walked.subtree(y, top.node) == []  # not a child of y
