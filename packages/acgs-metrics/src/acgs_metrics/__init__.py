"""ACGS governance metrics: the catalog, typed instruments and exposition.

Quick start::

    from acgs_metrics import GovernanceMetrics

    metrics = GovernanceMetrics("gs")
    with metrics.time_synthesis("constitutional"):
        ...
"""

from acgs_metrics.catalog import CATALOG
from acgs_metrics.governance import GovernanceMetrics
from acgs_metrics.instruments import Instruments, LabelValueError
from acgs_metrics.middleware import ASGIMetricsMiddleware, HttpMetrics, WSGIMetricsMiddleware
from acgs_metrics.schema import Catalog, GaugeMode, LabelSpec, MetricSpec, MetricType, Unit
from acgs_metrics.services import SERVICE_NAMES, SERVICES, ServiceSpec

__all__ = [
    "CATALOG",
    "SERVICES",
    "SERVICE_NAMES",
    "ASGIMetricsMiddleware",
    "Catalog",
    "GaugeMode",
    "GovernanceMetrics",
    "HttpMetrics",
    "Instruments",
    "LabelSpec",
    "LabelValueError",
    "MetricSpec",
    "MetricType",
    "ServiceSpec",
    "Unit",
    "WSGIMetricsMiddleware",
]
__version__ = "0.1.0"
