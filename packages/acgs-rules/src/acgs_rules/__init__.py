"""Lint and unit-test Prometheus alert and recording rules for ACGS."""

__version__ = "0.1.0"
