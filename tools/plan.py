"""Render a stack's Kubernetes objects without a cluster, and diff them against another git revision.

    python -m tools.plan render --stack dev --out build/plan/dev [--set KEY=VALUE ...] [--show-secrets]
                                [--chart-dir DIR] [--json FILE]
    python -m tools.plan diff --stack prod --base origin/main [--set KEY=VALUE ...] [--chart-dir DIR]
                              [--format text|markdown] [--exit-code]

Both run the real program through the in-process engine the tests use (tools.engine), so they need neither the
Pulumi CLI nor a cluster. `render` writes every Kubernetes object as YAML (tools.manifests), the values of each
helm.v3.Release and, when a chart directory is given (or ROCKETCHAT_CHART_DIR is set), the chart rendered by real
Helm with those values; then it prints one summary line: objects by kind and what the workloads request and may use
(replicas x per-container amounts). `diff` renders the stack at a git revision and in the working tree and prints
a unified diff per object (keyed by kind/namespace/name), counts first. Secret values are redacted in both, and
always in `diff`.

The base revision is exported with `git archive` into a temporary directory and rendered there, in a subprocess of
the same Python, by the working tree's tools/: so a revision that predates these tools can be diffed, and a change to
the tools never shows up as a change to the manifests. `--set` overrides apply to the working tree's side only, for
a what-if against the base (`diff --base HEAD --set rocketchat:monolith='{"replicas": 5}'`).
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tools import yamlio

CHART_DIR_ENV = "ROCKETCHAT_CHART_DIR"
REDACTED = "<redacted>"  # the same marker tools.manifests uses
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
RENDER_MARKER = ".plan-render"
"""Left in a directory `render` wrote, so that a later render may clear it (and no other directory)."""
PROJECT_DIR = Path(__file__).resolve().parent.parent
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


class PlanError(Exception):
    """A problem the user can fix (unknown revision, missing stack file, failing render); printed without traceback."""


# ---------------------------------------------------------------------------------------------------------
# Kubernetes quantities
# ---------------------------------------------------------------------------------------------------------

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?[0-9]+))?$"
)


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes quantity (`250m`, `1.5`, `512Mi`, `2G`, `1e3`, or a YAML number) as an exact Decimal.

    CPU comes out in cores and memory in bytes. Raises ValueError for anything Kubernetes would reject.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 250m, 1, 512Mi or 2Gi")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as error:  # pragma: no cover - the pattern only admits decimals
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from error
    if match["exponent"] is not None:
        return number.scaleb(int(match["exponent"]))
    suffix = match["suffix"] or ""
    if suffix in _BINARY_SUFFIXES:
        return number * _BINARY_SUFFIXES[suffix]
    return number * _DECIMAL_SUFFIXES[suffix]


def _trim(number: Decimal, places: int) -> str:
    text = f"{number.quantize(Decimal(1).scaleb(-places)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_cpu(cores: Decimal) -> str:
    """Cores as a person reads them: `250m` below one core, `1.85` above."""
    if cores == 0:
        return "0"
    if cores < 1:
        return f"{_trim(cores * 1000, 1)}m"
    return _trim(cores, 3)


def format_bytes(amount: Decimal) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1: `512Mi`, `3.25Gi`."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY_SUFFIXES[suffix]
        if amount >= unit:
            return f"{_trim(amount / unit, 2)}{suffix}"
    return _trim(amount, 0)


# ---------------------------------------------------------------------------------------------------------
# Objects, keys and the cost summary
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
class Summary:
    """What a set of objects adds up to. CPU in cores, memory and storage in bytes."""

    kinds: Counter[str] = field(default_factory=Counter)
    pods: int = 0
    requests_cpu: Decimal = Decimal(0)
    requests_memory: Decimal = Decimal(0)
    limits_cpu: Decimal = Decimal(0)
    limits_memory: Decimal = Decimal(0)
    containers: int = 0
    """Containers (per pod template, not times replicas) that run for the life of the pod."""
    without_cpu_limit: int = 0
    without_memory_limit: int = 0
    storage: Decimal = Decimal(0)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinds": dict(sorted(self.kinds.items())),
            "pods": self.pods,
            "requests": {"cpu": format_cpu(self.requests_cpu), "memory": format_bytes(self.requests_memory)},
            "limits": {"cpu": format_cpu(self.limits_cpu), "memory": format_bytes(self.limits_memory)},
            "containers": self.containers,
            "withoutCpuLimit": self.without_cpu_limit,
            "withoutMemoryLimit": self.without_memory_limit,
            "storage": format_bytes(self.storage),
            "notes": list(self.notes),
        }


def _amount(resources: Mapping[str, Any] | None, section: str, resource: str) -> Decimal | None:
    value = ((resources or {}).get(section) or {}).get(resource)
    return None if value is None else parse_quantity(value)


def running_containers(pod_spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The containers that run for the pod's life: the app containers and the sidecars (init containers with
    restartPolicy Always)."""
    inits = pod_spec.get("initContainers") or []
    return [*(pod_spec.get("containers") or []), *(c for c in inits if c.get("restartPolicy") == "Always")]


def pod_amounts(pod_spec: Mapping[str, Any]) -> dict[tuple[str, str], Decimal]:
    """The effective requests and limits of one pod, as the scheduler counts them.

    Sum over the running containers, or the largest plain init container if that is larger, resource by resource.
    """
    running_now = running_containers(pod_spec)
    plain_inits = [c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") != "Always"]
    amounts: dict[tuple[str, str], Decimal] = {}
    for section in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            running = sum(
                (_amount(c.get("resources"), section, resource) or Decimal(0) for c in running_now), Decimal(0)
            )
            init_peak = max(
                (_amount(c.get("resources"), section, resource) or Decimal(0) for c in plain_inits),
                default=Decimal(0),
            )
            amounts[(section, resource)] = max(running, init_peak)
    return amounts


def summarize(documents: Iterable[Mapping[str, Any]]) -> Summary:
    """Objects by kind; for Deployments and StatefulSets, replicas x each pod's requests, limits and volume claims."""
    summary = Summary()
    for document in documents:
        kind = document.get("kind", "?")
        summary.kinds[kind] += 1
        if kind not in WORKLOAD_KINDS:
            continue
        spec = document.get("spec") or {}
        replicas = spec.get("replicas")
        replicas = 1 if replicas is None else int(replicas)
        pod_spec = (spec.get("template") or {}).get("spec") or {}
        summary.pods += replicas
        amounts = pod_amounts(pod_spec)
        summary.requests_cpu += replicas * amounts[("requests", "cpu")]
        summary.requests_memory += replicas * amounts[("requests", "memory")]
        summary.limits_cpu += replicas * amounts[("limits", "cpu")]
        summary.limits_memory += replicas * amounts[("limits", "memory")]
        running = running_containers(pod_spec)
        summary.containers += len(running)
        summary.without_cpu_limit += sum(1 for c in running if _amount(c.get("resources"), "limits", "cpu") is None)
        summary.without_memory_limit += sum(
            1 for c in running if _amount(c.get("resources"), "limits", "memory") is None
        )
        for claim in spec.get("volumeClaimTemplates") or []:
            storage = (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
            if storage is not None:
                summary.storage += replicas * parse_quantity(storage)
    return summary


def summary_line(stack: str, summary: Summary) -> str:
    """One line a reviewer can compare between two renders."""
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.kinds.items()))
    total = sum(summary.kinds.values())

    def limit(total: str, unset: int) -> str:
        if unset and unset == summary.containers:
            return "none"
        return f"{total} (unset on {unset} of {summary.containers} containers)" if unset else total

    cpu_limit = limit(format_cpu(summary.limits_cpu), summary.without_cpu_limit)
    memory_limit = limit(format_bytes(summary.limits_memory), summary.without_memory_limit)
    parts = [
        f"{stack}: {total} objects ({kinds})",
        f"{summary.pods} pods",
        f"requests cpu {format_cpu(summary.requests_cpu)} memory {format_bytes(summary.requests_memory)}",
        f"limits cpu {cpu_limit} memory {memory_limit}",
        f"storage {format_bytes(summary.storage)}",
    ]
    return " | ".join(parts + summary.notes)


# ---------------------------------------------------------------------------------------------------------
# Per-object diff
# ---------------------------------------------------------------------------------------------------------


def to_text(document: Any) -> str:
    """The canonical text of an object for diffing: YAML with sorted keys (the engine's key order is not stable)."""
    return yamlio.dump(document, sort_keys=True, default_flow_style=False, width=1000)


@dataclass
class ObjectDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    patches: dict[str, str] = field(default_factory=dict)
    """Key -> unified diff text, for every added, removed and changed key."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def counts(self) -> str:
        return (
            f"{len(self.changed)} changed, {len(self.added)} added, {len(self.removed)} removed "
            f"({self.unchanged} unchanged)"
        )


def diff_objects(base: Mapping[str, Any], head: Mapping[str, Any], context: int = 3) -> ObjectDiff:
    """Compare two `key -> document` maps; a unified diff per added, removed or changed key, in key order."""
    result = ObjectDiff()
    for key in sorted(set(base) | set(head)):
        before = to_text(base[key]).splitlines(keepends=True) if key in base else []
        after = to_text(head[key]).splitlines(keepends=True) if key in head else []
        if key not in base:
            result.added.append(key)
        elif key not in head:
            result.removed.append(key)
        elif before == after:
            result.unchanged += 1
            continue
        else:
            result.changed.append(key)
        result.patches[key] = "".join(
            difflib.unified_diff(
                before,
                after,
                fromfile=f"a/{key}" if key in base else "/dev/null",
                tofile=f"b/{key}" if key in head else "/dev/null",
                n=context,
            )
        )
    return result


# ---------------------------------------------------------------------------------------------------------
# Rendering a stack
# ---------------------------------------------------------------------------------------------------------


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


def redact_secret_data(document: dict[str, Any]) -> dict[str, Any]:
    """A chart-rendered Secret with its `data`/`stringData` values hidden (keys stay, so diffs show their shape)."""
    if document.get("kind") != "Secret":
        return document
    redacted = dict(document)
    for section in ("data", "stringData"):
        if isinstance(redacted.get(section), dict):
            redacted[section] = {key: REDACTED for key in redacted[section]}
    return redacted


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
) -> Rendered:
    """Run the program for `stack` and collect its objects, its Release values and (with a chart dir) the chart."""
    from tools.engine import run_program
    from tools.manifests import kubernetes_objects, plain

    recording = run_program(stack, overrides)
    objects = [PlanObject(object_key(doc), "program", doc) for doc in kubernetes_objects(recording, show_secrets)]
    warnings: list[str] = []
    workload_documents: list[dict[str, Any]] = [o.document for o in objects]
    notes: list[str] = []
    for release in recording.of_type(RELEASE_TYPE):
        inputs = plain({k: v for k, v in release.inputs.items() if k != "values"}, show_secrets)
        values = plain(release.inputs.get("values") or {}, show_secrets)
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
            rendered = [redact_secret_data(doc) for doc in rendered]
        objects += [PlanObject(chart_key(name, doc, namespace), f"chart:{name}", doc) for doc in rendered]
        workload_documents += rendered
    summary = summarize(workload_documents)
    releases = sum(1 for o in objects if o.source.startswith("values:"))
    if releases:
        summary.kinds["Release"] += releases
    summary.notes += notes
    return Rendered(stack, objects, summary, warnings)


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


# ---------------------------------------------------------------------------------------------------------
# Rendering another revision
# ---------------------------------------------------------------------------------------------------------


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)


def export_revision(rev: str, stack: str, destination: Path, project_dir: Path = PROJECT_DIR) -> Path:
    """The project as of `rev`, unpacked into `destination` with the working tree's tools/ laid over it."""
    if _git(["rev-parse", "--git-dir"], project_dir).returncode != 0:
        raise PlanError(f"{project_dir} is not in a git repository: diff needs one")
    resolved = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], project_dir)
    if resolved.returncode != 0:
        raise PlanError(
            f"unknown revision {rev!r}: give a commit, branch or tag this clone has (for a pull request's base, "
            "fetch it first, e.g. `git fetch origin main`, and use origin/main)"
        )
    commit = resolved.stdout.decode().strip()
    prefix = _git(["rev-parse", "--show-prefix"], project_dir).stdout.decode().strip()
    for required, why in ((f"Pulumi.{stack}.yaml", f"the stack file of {stack!r}"), ("__main__.py", "the program")):
        if _git(["cat-file", "-e", f"{commit}:{prefix}{required}"], project_dir).returncode != 0:
            raise PlanError(f"{rev} ({commit[:12]}) has no {prefix}{required} ({why}): nothing to compare against")
    archive = _git(["archive", "--format=tar", f"{commit}:{prefix}" if prefix else commit], project_dir)
    if archive.returncode != 0:
        raise PlanError(f"git archive of {rev} failed: {archive.stderr.decode().strip()}")
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    tools = destination / "tools"
    if tools.exists():
        shutil.rmtree(tools)
    shutil.copytree(project_dir / "tools", tools, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def render_in(
    directory: Path,
    stack: str,
    overrides: list[str],
    chart_dir: Path | None,
    label: str,
) -> dict[str, Any]:
    """`render --json` of `stack` in a project directory, in a subprocess of this same Python."""
    with tempfile.TemporaryDirectory(prefix="plan-") as scratch:
        result_file = Path(scratch) / "render.json"
        command = [sys.executable, "-m", "tools.plan", "render", "--stack", stack, "--json", str(result_file)]
        for override in overrides:
            command += ["--set", override]
        if chart_dir is not None:
            command += ["--chart-dir", str(chart_dir)]
        env = {k: v for k, v in os.environ.items() if k != CHART_DIR_ENV} | {"PYTHONDONTWRITEBYTECODE": "1"}
        process = subprocess.run(command, cwd=directory, capture_output=True, text=True, env=env, check=False)
        if process.returncode != 0:
            tail = "\n".join((process.stderr or process.stdout).strip().splitlines()[-15:])
            raise PlanError(f"rendering {stack!r} at {label} failed:\n{tail}")
        return json.loads(result_file.read_text())


@dataclass
class PlanDiff:
    stack: str
    base: str
    diff: ObjectDiff
    base_summary: str
    head_summary: str
    warnings: list[str] = field(default_factory=list)


def diff_stack(
    stack: str,
    base: str,
    overrides: list[str] | None = None,
    chart_dir: Path | None = None,
) -> PlanDiff:
    """Render `stack` at `base` and in this working tree (in parallel) and compare object by object."""
    if not (PROJECT_DIR / f"Pulumi.{stack}.yaml").exists():
        raise PlanError(f"the working tree has no Pulumi.{stack}.yaml")
    with tempfile.TemporaryDirectory(prefix="plan-base-") as scratch:
        base_dir = export_revision(base, stack, Path(scratch) / "project")
        with ThreadPoolExecutor(max_workers=2) as pool:
            base_job = pool.submit(render_in, base_dir, stack, [], chart_dir, base)
            head_job = pool.submit(render_in, PROJECT_DIR, stack, list(overrides or []), chart_dir, "the working tree")
            before, after = base_job.result(), head_job.result()

    return compare_renders(stack, base, before, after)


def compare_renders(stack: str, base: str, before: dict[str, Any], after: dict[str, Any]) -> PlanDiff:
    """Two `render --json` documents of `stack` (the base's and the working tree's), compared object by object."""

    def documents(render: dict[str, Any]) -> dict[str, Any]:
        return {o["key"]: o["document"] for o in render["objects"]}

    return PlanDiff(
        stack=stack,
        base=base,
        diff=diff_objects(documents(before), documents(after)),
        base_summary=before["summaryLine"],
        head_summary=after["summaryLine"],
        warnings=sorted(set(before["warnings"]) | set(after["warnings"])),
    )


def format_text(plan: PlanDiff) -> str:
    lines = [
        f"{plan.stack} against {plan.base}: {plan.diff.counts()}",
        f"  base: {plan.base_summary}",
        f"  head: {plan.head_summary}",
    ]
    lines += [f"  warning: {w}" for w in plan.warnings]
    for title, keys in (("changed", plan.diff.changed), ("added", plan.diff.added), ("removed", plan.diff.removed)):
        lines += [f"  {title}: {key}" for key in keys]
    body = "".join(plan.diff.patches[key] for key in sorted(plan.diff.patches))
    return "\n".join(lines) + ("\n\n" + body if body else "\n")


def format_markdown(plan: PlanDiff, max_chars: int = 60_000) -> str:
    """For a pull-request comment or job summary; the diff is cut at `max_chars` (GitHub's limit is 65,536)."""
    lines = [
        f"#### Manifest diff: `{plan.stack}` against `{plan.base}`",
        "",
        f"**{plan.diff.counts()}**",
        "",
        f"- base: `{plan.base_summary}`",
        f"- this change: `{plan.head_summary}`",
        "",
    ]
    lines += [f"> warning: {w}" for w in plan.warnings]
    for title, keys in (("changed", plan.diff.changed), ("added", plan.diff.added), ("removed", plan.diff.removed)):
        lines += [f"- {title}: `{key}`" for key in keys]
    if plan.diff.empty:
        lines.append("No Kubernetes object changes.")
        return "\n".join(lines) + "\n"
    body = "".join(plan.diff.patches[key] for key in sorted(plan.diff.patches))
    if len(body) > max_chars:
        body = body[:max_chars].rsplit("\n", 1)[0] + "\n... (cut; run `python -m tools.plan diff` for all of it)\n"
    lines += ["", "<details><summary>Per-object diff (secrets redacted)</summary>", "", "```diff", body.rstrip(), "```"]
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------


def _chart_dir(given: Path | None) -> Path | None:
    chart_dir = given or (Path(os.environ[CHART_DIR_ENV]) if os.environ.get(CHART_DIR_ENV) else None)
    if chart_dir is not None and not (chart_dir / "Chart.yaml").is_file():
        raise PlanError(f"{chart_dir} is not a chart directory (no Chart.yaml)")
    return chart_dir.resolve() if chart_dir else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser("render", help="write every object of a stack as YAML and print a summary line")
    render.add_argument("--stack", required=True)
    render.add_argument("--out", type=Path, help="directory for the YAML files")
    render.add_argument("--json", type=Path, help="also write the objects and summary as one JSON document")
    render.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    render.add_argument("--show-secrets", action="store_true", help="write secret values instead of <redacted>")
    render.add_argument("--chart-dir", type=Path, help=f"the chart to render Releases with (default ${CHART_DIR_ENV})")

    diff = commands.add_parser("diff", help="per-object diff of a stack between a git revision and the working tree")
    diff.add_argument("--stack", required=True)
    diff.add_argument("--base", required=True, metavar="REV", help="git revision to compare against, e.g. origin/main")
    diff.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    diff.add_argument("--chart-dir", type=Path, help=f"the chart to render Releases with (default ${CHART_DIR_ENV})")
    diff.add_argument("--format", choices=("text", "markdown"), default="text")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when objects differ (like git diff)")

    args = parser.parse_args(argv)
    try:
        chart_dir = _chart_dir(args.chart_dir)
        if args.command == "render":
            if args.out is None and args.json is None:
                parser.error("render needs --out DIR and/or --json FILE")
            from tools.manifests import parse_overrides  # with the engine and Pulumi, which `diff` does not load

            rendered = render_stack(
                args.stack, parse_overrides(args.overrides), show_secrets=args.show_secrets, chart_dir=chart_dir
            )
            for warning in rendered.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            if args.out is not None:
                written = write_render(rendered, args.out)
                print(f"{len(written)} files written to {args.out}", file=sys.stderr)
            if args.json is not None:
                args.json.write_text(json.dumps(rendered.to_json(), indent=1, sort_keys=True))
            print(summary_line(args.stack, rendered.summary))
            return 0
        plan = diff_stack(args.stack, args.base, args.overrides, chart_dir)
        print(format_markdown(plan) if args.format == "markdown" else format_text(plan), end="")
        return 1 if args.exit_code and not plan.diff.empty else 0
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
