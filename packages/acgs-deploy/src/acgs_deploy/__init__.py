"""Deploy, check, measure and back up the ACGS monitoring stack."""

__version__ = "0.1.0"
