"""The kubernetes target: prometheus-operator resources and Kubernetes objects in ``--out DIR``
(default ``<state>/kubernetes``), rendered from the same settings, templates, rules and
dashboards as the other targets (:mod:`acgs_deploy.k8s`). Render only: no cluster is reached.

The rule files pass ``acgs-rules lint`` first; every rendered object is validated from its file
(:mod:`acgs_deploy.k8s.validate`) in a staging directory beside DIR, which then replaces DIR in
one rename: a refused render leaves DIR as it was. DIR must be new, empty or an earlier render
(it holds `MARKER`). The next step is the user's: ``kubectl apply --server-side -f DIR``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from acgs_deploy import preflight
from acgs_deploy.backends.base import DeployOptions, Rendered, Report
from acgs_deploy.errors import DeployError
from acgs_deploy.k8s import SECRETS
from acgs_deploy.k8s.render import check_namespace, render_files
from acgs_deploy.k8s.rules import lint_rules
from acgs_deploy.k8s.validate import validate_directory
from acgs_deploy.settings import StackSettings

__all__ = ["DEFAULT_NAMESPACE", "DEMO_REFUSED", "MARKER", "KubernetesBackend"]

DEFAULT_NAMESPACE = "monitoring"
# Marks a directory as a render of ours (kubectl skips it: no .yaml/.yml/.json suffix).
MARKER = ".acgs-kubernetes-render"
MARKER_TEXT = (
    "Rendered by acgs-deploy (invoke deploy --target kubernetes); a new render replaces this "
    "directory whole.\n"
)
DEMO_REFUSED = (
    "--demo is not supported with --target kubernetes: the demo services (acgs-sim) and the "
    "webhook receiver run as local processes. Render without --demo."
)


class KubernetesBackend:
    """The render of the stack in `settings` into ``options.out`` for ``options.namespace``."""

    def __init__(
        self,
        settings: StackSettings,
        options: DeployOptions | None = None,
        console: Console | None = None,
    ) -> None:
        if options is not None and options.demo:
            raise DeployError(DEMO_REFUSED)
        self.settings = settings
        out = options.out if options is not None and options.out else None
        self.out = Path(out or settings.state_dir / "kubernetes").absolute()
        given = options.namespace if options is not None else None
        self.namespace = DEFAULT_NAMESPACE if given is None else given
        self.objects = 0

    def render(self) -> Rendered:
        """Check the namespace, the output directory and the rules, then write every file into
        a staging directory beside the output."""
        check_namespace(self.namespace)
        self._check_out()
        preflight.check_rules_dir(self.settings)
        lint_rules(self.settings.rules_dir)
        files = render_files(self.settings, self.namespace)
        with self._writing():
            self.out.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f".{self.out.name}-"))
            rendered = Rendered(staging, config=staging, certs_changed=False)
            try:
                for name, text in files.items():
                    (staging / name).write_text(text, encoding="utf-8")
                (staging / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
                staging.chmod(0o755)
            except BaseException:
                rendered.discard()
                raise
        return rendered

    def validate(self, rendered: Rendered) -> None:
        self.objects = validate_directory(rendered.config)

    def apply(self, rendered: Rendered) -> Report:
        """Replace the output directory with the validated render."""
        previous = self.out.with_name(f".{self.out.name}-previous")
        try:
            with self._writing():
                shutil.rmtree(previous, ignore_errors=True)
                if self.out.exists():
                    os.replace(self.out, previous)
                os.replace(rendered.staging, self.out)
                shutil.rmtree(previous, ignore_errors=True)
        finally:
            rendered.discard()
        return Report(notes=self._notes())

    def status(self) -> Report:
        return Report(notes=self._management_notes())

    def down(self) -> Report:
        return Report(notes=self._management_notes())

    def _check_out(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise DeployError(f"--out {out}: is a file; give a directory (new, empty or a render)")
        if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
            raise DeployError(
                f"--out {out}: holds files that are not a kubernetes render of acgs-deploy, "
                "which a render would replace: give a new or empty directory"
            )

    def _notes(self) -> list[str]:
        secrets = "; ".join(f"{name} ({', '.join(keys)})" for name, keys in SECRETS.items())
        return [
            f"rendered and validated {self.objects} objects in {self.out} "
            f"(namespace {self.namespace})",
            f"apply them with: kubectl apply --server-side -f {self.out}",
            "the objects read these Secrets, which you create in the namespace (no value is "
            f"rendered): {secrets}; see packages/acgs-deploy/docs/kubernetes.md",
        ]

    def _management_notes(self) -> list[str]:
        if not (self.out / MARKER).is_file():
            return []
        return [
            f"this state directory also holds a kubernetes render ({self.out}); see it on the "
            "cluster with `kubectl get prometheus,alertmanager,servicemonitors,prometheusrules "
            f"-n {self.namespace}`, remove it with `kubectl delete -f {self.out}`"
        ]

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            where = f" ({error.filename})" if error.filename else ""
            raise DeployError(
                f"cannot write the kubernetes render {self.out}: {error.strerror or error}"
                f"{where}. Choose a writable --out or fix its permissions."
            ) from None
