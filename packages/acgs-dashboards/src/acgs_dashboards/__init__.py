"""ACGS Grafana dashboards as code: builders, provisioning and a dashboard linter."""

__version__ = "0.1.0"
