"""Exposition: the text format for a registry, served over HTTP, ASGI or WSGI."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

__all__ = ["render"]


def render(registry: CollectorRegistry = REGISTRY, accept: str | None = None) -> tuple[bytes, str]:
    """The registry's samples in the format ``accept`` asks for: (body, content type)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
