"""A stack's objects, rendered without a cluster: the program's Kubernetes objects (through tools.engine and
tools.manifests), each helm.v3.Release's values and, given the chart's directory, the chart rendered by real Helm
with exactly those values; each object under a key (`Kind/namespace/name`) that names it across renders, Secret
values redacted unless asked for, and the whole written as YAML files (`render --out`) or one JSON document
(`render --json`, what `diff` reads back from each side).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.tokens import RELEASE_TYPE
from tools import yamlio
from tools.plan.errors import PlanError
from tools.plan.summary import Summary, summarize, summary_line
from tools.redaction import HIDDEN, Redaction

CHART_DIR_ENV = "ROCKETCHAT_CHART_DIR"


def pinned_chart_dir() -> Path | None:
    """The chart to render: ROCKETCHAT_CHART_DIR, else the pinned version where scripts/fetch-chart keeps it
    (`$ROCKETCHAT_CHART_CACHE` or ~/.cache/rocketchat-chart), else None."""
    import os

    from components.versions import DEFAULT_CHART_VERSION

    if os.environ.get(CHART_DIR_ENV):
        return Path(os.environ[CHART_DIR_ENV])
    cache = Path(os.environ.get("ROCKETCHAT_CHART_CACHE") or Path.home() / ".cache" / "rocketchat-chart")
    chart = cache / DEFAULT_CHART_VERSION / "rocketchat"
    return chart if (chart / "Chart.yaml").is_file() else None


RENDER_MARKER = ".plan-render"
"""Left in a directory `render` wrote, so that a later render may clear it (and no other directory)."""
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "StorageClass",
        "PersistentVolume",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)


# ---------------------------------------------------------------------------------------------------------
# Objects and their keys
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanObject:
    """One rendered thing: a Kubernetes object of the program, a Release's values, or an object of a rendered chart."""

    key: str
    source: str
    """`program`, `values:<release>` (a helm.v3.Release's values) or `chart:<release>` (objects the chart renders)."""
    document: dict[str, Any]


def object_key(document: Mapping[str, Any], default_namespace: str | None = None) -> str:
    """`Kind/namespace/name`, or `Kind/name` for cluster-scoped kinds."""
    kind = document.get("kind", "?")
    metadata = document.get("metadata") or {}
    name = metadata.get("name", "?")
    if kind in CLUSTER_SCOPED_KINDS:
        return f"{kind}/{name}"
    namespace = metadata.get("namespace") or default_namespace or "default"
    return f"{kind}/{namespace}/{name}"


def values_key(release: str, namespace: str) -> str:
    return f"Release/{namespace}/{release} (values)"


def chart_key(release: str, document: Mapping[str, Any], namespace: str) -> str:
    return f"chart {release}: {object_key(document, namespace)}"


@dataclass
class Rendered:
    stack: str
    objects: list[PlanObject]
    summary: Summary
    warnings: list[str] = field(default_factory=list)

    def by_key(self) -> dict[str, dict[str, Any]]:
        return {o.key: o.document for o in self.objects}

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "objects": [{"key": o.key, "source": o.source, "document": o.document} for o in self.objects],
            "summary": self.summary.as_dict(),
            "summaryLine": summary_line(self.stack, self.summary),
            "warnings": self.warnings,
        }


def redact_secret_data(document: dict[str, Any], redaction: Redaction = HIDDEN) -> dict[str, Any]:
    """A chart-rendered Secret with its `data`/`stringData` values hidden (keys stay, so diffs show their shape)."""
    if document.get("kind") != "Secret":
        return document
    redacted = dict(document)
    for section in ("data", "stringData"):
        if isinstance(redacted.get(section), dict):
            redacted[section] = redaction.hide(redacted[section])
    return redacted


# ---------------------------------------------------------------------------------------------------------
# Rendering a stack
# ---------------------------------------------------------------------------------------------------------


def render_chart(chart_dir: Path, values: Mapping[str, Any], release: str, namespace: str) -> list[dict[str, Any]]:
    """The chart rendered by real Helm (helm_python) with these values; NOTES.txt and empty templates skipped.

    The chart is loaded afresh for every render: helm_python's render drops disabled subcharts from the loaded
    chart for good.
    """
    import helm_python

    chart = helm_python.Chart.load(str(chart_dir))
    try:
        rendered = chart.render(dict(values), name=release, namespace=namespace)
    except Exception as error:  # helm_python raises its own error types for template failures
        raise PlanError(f"the chart in {chart_dir} failed to render release {release}: {error}") from error
    documents = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        documents += [doc for doc in yamlio.load_all(text) if doc]
    return documents


def chart_identity(chart_dir: Path) -> tuple[str, str]:
    chart = yamlio.load((chart_dir / "Chart.yaml").read_text())
    return str(chart.get("name")), str(chart.get("version"))


def render_stack(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    show_secrets: bool = False,
    chart_dir: Path | None = None,
    redaction_key: str | None = None,
) -> Rendered:
    """Run the program for `stack` and collect its objects, its Release values and (with a chart dir) the chart.
    With a `redaction_key`, a hidden value is marked with a keyed digest of it (see tools.manifests.Redaction)."""
    from tools.engine import run_program  # with Pulumi, which `diff`'s own process does not load
    from tools.manifests import kubernetes_objects, kubernetes_patches, plain

    redaction = Redaction(redaction_key)
    recording = run_program(stack, overrides)
    objects = [
        PlanObject(object_key(doc), "program", doc) for doc in kubernetes_objects(recording, show_secrets, redaction)
    ]
    warnings: list[str] = []
    workload_documents: list[dict[str, Any]] = [o.document for o in objects]
    # The program's patches of the chart's objects: shown (and diffed) as what they set, never counted as workloads.
    objects += [PlanObject(object_key(doc), "program", doc) for doc in kubernetes_patches(recording)]
    notes: list[str] = []
    for release in recording.of_type(RELEASE_TYPE):
        inputs = plain({k: v for k, v in release.inputs.items() if k != "values"}, show_secrets, redaction)
        values = plain(release.inputs.get("values") or {}, show_secrets, redaction)
        name = inputs.get("name") or release.name
        namespace = inputs.get("namespace") or "default"
        objects.append(PlanObject(values_key(name, namespace), f"values:{name}", values))
        if chart_dir is None:
            notes.append(f"chart of release {name} not rendered (no --chart-dir or {CHART_DIR_ENV})")
            continue
        chart_name, chart_version = chart_identity(chart_dir)
        if chart_name != inputs.get("chart"):
            notes.append(f"chart of release {name} not rendered ({chart_dir} holds {chart_name!r})")
            continue
        if chart_version != str(inputs.get("version")):
            warnings.append(
                f"release {name} pins chart version {inputs.get('version')} but {chart_dir} holds {chart_version}"
            )
        rendered = render_chart(chart_dir, values, name, namespace)
        if not show_secrets:
            rendered = [redact_secret_data(doc, redaction) for doc in rendered]
        objects += [PlanObject(chart_key(name, doc, namespace), f"chart:{name}", doc) for doc in rendered]
        workload_documents += rendered
    summary = summarize(workload_documents)
    releases = sum(1 for o in objects if o.source.startswith("values:"))
    if releases:
        summary.kinds["Release"] += releases
    summary.notes += notes
    return Rendered(stack, objects, summary, warnings)


# ---------------------------------------------------------------------------------------------------------
# Writing a render
# ---------------------------------------------------------------------------------------------------------


def write_render(rendered: Rendered, out: Path) -> list[Path]:
    """The objects as YAML files through tools.manifests: program objects and `<release>.values.yaml` in `out`,
    each rendered chart's objects in `out/chart-<release>/`. Only an empty directory or one written by an earlier
    render is used (and then cleared first, so no object that is gone stays behind)."""
    from tools.manifests import write

    _prepare(out)
    program = [o.document for o in rendered.objects if o.source == "program"]
    values = {o.source.removeprefix("values:"): o.document for o in rendered.objects if o.source.startswith("values:")}
    written = write(program, values, out)
    for source in sorted({o.source for o in rendered.objects if o.source.startswith("chart:")}):
        release = source.removeprefix("chart:")
        written += write([o.document for o in rendered.objects if o.source == source], {}, out / f"chart-{release}")
    (out / RENDER_MARKER).write_text(f"written by python -m tools.plan render --stack {rendered.stack}\n")
    return written


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise PlanError(f"{out} exists and is not a directory")
        if any(out.iterdir()) and not (out / RENDER_MARKER).exists():
            raise PlanError(f"{out} is not empty and was not written by `tools.plan render`: choose another --out")
        for child in out.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)
