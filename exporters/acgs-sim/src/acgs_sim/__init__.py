"""Demo ACGS governance services that emit every catalog metric, with fault injection."""

__version__ = "0.1.0"
