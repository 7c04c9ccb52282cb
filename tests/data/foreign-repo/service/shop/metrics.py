"""The metrics of a small fake shop service: a foreign repository's code, as `--source` reads
it (never imported by the tests). Names are built the ways real services build them."""

from __future__ import annotations

import prometheus_client as prom
from prometheus_client import Counter, Gauge, Histogram, Info, Summary

NAMESPACE = "shop"
ORDER_LABELS = ["method", "status"]

ORDERS = Counter("orders", "Orders placed.", ORDER_LABELS, namespace=NAMESPACE)
PAYMENT_FAILURES = Counter(
    "payment_failures_total", "Failed payments.", ["provider"], namespace=NAMESPACE
)
QUEUE_DEPTH = Gauge(f"{NAMESPACE}_queue_depth", "Jobs waiting.", labelnames=("queue",))
CART_ITEMS = Gauge("items", "Items in open carts.", namespace=NAMESPACE, subsystem="cart")
CHECKOUT = Histogram(
    "checkout_duration", "Checkout time.", ["step"], namespace=NAMESPACE, unit="seconds"
)
RENDER = Summary(NAMESPACE + "_render_seconds", "Page render time.", ["page"])
BUILD = Info("build", "Build of the running shop.", namespace=NAMESPACE)
# Shares its name with an ACGS catalog metric, but is the shop's own: other labels.
SESSIONS = prom.Gauge("acgs_active_sessions", "Open sessions per tenant.", ["tenant"])
