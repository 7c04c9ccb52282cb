"""Check every object of a rendered directory, as read back from its files.

Custom resources go through the typed models of prometheus-operator v0.80.1's CRDs
(``cloudcoil-models-prometheus-operator`` 0.80.1.0): a value of the wrong type or outside its
pattern fails the model, and a field the model does not know (which pydantic would drop
silently) or a value it had to convert is found by comparing the object with the model's own
dump. Core objects go through the Kubernetes JSON schemas of `KUBERNETES_VERSION` in strict
mode (unknown fields refused) with ``kubernetes-validate``. The first problem of an object is
a :class:`ManifestError` naming the file, the object and the field.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from acgs_deploy.render import RenderError

__all__ = ["KUBERNETES_VERSION", "ManifestError", "validate_directory", "validate_object"]

# The oldest Kubernetes the rendered objects are checked against (prometheus-operator v0.80
# supports 1.16 and later; 1.30 is the oldest release still maintained upstream here).
KUBERNETES_VERSION = "1.30"
# A DNS subdomain (RFC 1123): what the API server accepts as an object's name.
NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_NAME = 253
# What kubectl applies from a directory (without -R).
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(RenderError):
    """A rendered object that Kubernetes or the operator would refuse."""


@functools.cache
def _custom_models() -> dict[tuple[str, str], type[BaseModel]]:
    # Imported on first use: building the models takes about a second.
    from cloudcoil.models.prometheus_operator import v1, v1alpha1

    kinds: list[type[BaseModel]] = [
        v1.Prometheus,
        v1.Alertmanager,
        v1.ServiceMonitor,
        v1.PodMonitor,
        v1.PrometheusRule,
        v1alpha1.AlertmanagerConfig,
    ]
    return {
        (model.model_fields["api_version"].default, model.model_fields["kind"].default): model
        for model in kinds
    }


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _describe(obj: dict[str, Any]) -> str:
    meta = _metadata(obj)
    name = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else meta.get("name")
    return f"{obj.get('kind')} {name}"


def _check_name(obj: dict[str, Any], what: str) -> None:
    """metadata.name as the API server wants it (neither schema checks it)."""
    name = _metadata(obj).get("name")
    if not isinstance(name, str) or len(name) > MAX_NAME or not NAME.fullmatch(name):
        raise ManifestError(
            f"{what}: metadata.name: {name!r} is not a Kubernetes name (at most {MAX_NAME} "
            "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)"
        )


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(the object)"


def _difference(given: Any, read: Any, where: tuple[Any, ...] = ()) -> tuple[str, str] | None:
    """The first place where the object says more than the model read, or something else."""
    if isinstance(given, dict) and isinstance(read, dict):
        for key, value in given.items():
            if key not in read:
                return _path((*where, key)), "unknown field (not in the CRD's schema)"
            found = _difference(value, read[key], (*where, key))
            if found:
                return found
        return None
    if isinstance(given, list) and isinstance(read, list) and len(given) == len(read):
        for index, (a, b) in enumerate(zip(given, read, strict=True)):
            found = _difference(a, b, (*where, index))
            if found:
                return found
        return None
    if given != read or type(given) is not type(read):
        return _path(where), f"{given!r} is not of the type the CRD wants (read as {read!r})"
    return None


def validate_object(obj: Any, where: str) -> None:
    """Refuse `obj` (read from `where`) with the object and field named."""
    if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
        raise ManifestError(f"{where}: not a Kubernetes object (no apiVersion and kind)")
    what = f"{where}: {_describe(obj)}"
    _check_name(obj, what)
    model = _custom_models().get((obj["apiVersion"], obj["kind"]))
    if model is not None:
        try:
            parsed = model.model_validate(obj)
        except ValidationError as error:
            problem = error.errors()[0]
            raise ManifestError(f"{what}: {_path(problem['loc'])}: {problem['msg']}") from None
        except TypeError as error:  # a generated constraint that cannot apply to the value
            raise ManifestError(f"{what}: the operator's model refuses it: {error}") from None
        read = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
        found = _difference(obj, read)
        if found:
            raise ManifestError(f"{what}: {found[0]}: {found[1]}")
        return
    _validate_core(obj, what)


def _validate_core(obj: dict[str, Any], what: str) -> None:
    import kubernetes_validate  # type: ignore[import-untyped]

    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        raise ManifestError(
            f"{what}: {_path(error.absolute_path)}: {error.message} "
            f"(Kubernetes {KUBERNETES_VERSION} schema)"
        ) from None
    except kubernetes_validate.SchemaNotFoundError:
        raise ManifestError(
            f"{what}: no schema for {obj['apiVersion']} {obj['kind']} in Kubernetes "
            f"{KUBERNETES_VERSION} nor among the operator's CRDs"
        ) from None


def validate_directory(directory: Path) -> int:
    """Validate every object of every manifest in `directory`; returns how many there are."""
    count = 0
    for path in sorted(p for p in directory.iterdir() if p.suffix in MANIFEST_SUFFIXES):
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as error:
            raise ManifestError(f"{path.name}: not valid YAML: {error}") from None
        for index, obj in enumerate(documents):
            if obj is None:
                continue
            validate_object(obj, f"{path.name} (document {index + 1})")
            count += 1
    return count
