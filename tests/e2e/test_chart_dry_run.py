"""The official chart's objects, rendered with the program's values, asked of the real API server without installing
anything: `kubectl apply --dry-run=server` runs every check of a create (validation, defaulting, admission, the Pod
Security Standard the namespace enforces) and stores nothing.

Schema validation (tests/test_release_chart.py) and tools.pod_rules (tests/test_release_chart_rules.py) are offline
stand-ins for these checks; this is the check itself, for several helm variants, in a scratch namespace labelled as
the stack's Namespace is (restricted, enforced). It also shows the API server rejecting the values that once broke
`pulumi up` of the production stack (the monolith's duplicate `tmp` volume).

Needs the chart (`eval "$(scripts/fetch-chart)"`, or ROCKETCHAT_CHART_DIR) beside the e2e toolchain; skipped otherwise.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tools.plan.render import CHART_DIR_ENV, pinned_chart_dir

if pinned_chart_dir() is None:
    pytest.skip(
        f"{CHART_DIR_ENV} is not set and scripts/fetch-chart has no chart in its cache: the dry-run renders the "
        f'official rocketchat chart with real Helm. Fetch the pinned chart with `eval "$(scripts/fetch-chart)"` '
        "(needs network) and run it again.",
        allow_module_level=True,
    )

from tests.e2e.conftest import REPORT, TIMINGS, Cluster
from tests.release_support import VARIANTS as HELM_VARIANTS
from tests.release_support import Run, variant
from tools import plan, yamlio
from tools.engine import reveal

pytestmark = pytest.mark.e2e

CHART_DIR = pinned_chart_dir()
VARIANTS = tuple(HELM_VARIANTS)  # all the helm-mode tests run: prod, monolith, 7.6/7.7, the chart's NATS and MongoDB
# Kinds whose API the local control plane does not serve (the Prometheus Operator's CRDs): not asked, and listed.
NO_API_HERE = ("PodMonitor", "ServiceMonitor", "PrometheusRule")
# What Helm renders for `helm test` only (an install never creates it).
TEST_HOOK = "test"
# API server warnings that name a real problem of an object (the rest are reported, not failed on). A Deployment
# whose pods break the enforced Pod Security Standard is accepted with a warning, and then never gets a pod.
FAILING_WARNINGS = ("PodSecurity", "hides previous definition", "duplicate port", "overlapping")
# Warnings the chart draws that no value of ours can avoid, expected where they occur: if one stops, the chart changed.
KNOWN_WARNINGS = {
    # The nats subchart (0.15.1) declares port 7777 `metrics` on its nats container as well as on its exporter's; the
    # same number either way, so the metrics Service reaches the exporter all the same.
    "bundled-nats": (
        (
            "Warning: spec.template.spec.containers[2].ports[0]: duplicate port definition with "
            "spec.template.spec.containers[0].ports[3]"
        ),
        (
            'Warning: spec.template.spec.containers[2].ports[0]: duplicate port name "metrics" with '
            "spec.template.spec.containers[0].ports[3], services and probes that select ports by name will use "
            "spec.template.spec.containers[0].ports[3]"
        ),
    ),
}


@dataclass
class DryRun:
    """What the API server said about a stream of objects."""

    accepted: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def reference(doc: dict[str, Any]) -> str:
    """How kubectl names an object in its output: `deployment.apps/rocketchat-rocketchat`, `service/rocketchat`."""
    api_version = doc["apiVersion"]
    group = api_version.split("/")[0] if "/" in api_version else ""
    return f"{doc['kind'].lower()}{'.' + group if group else ''}/{doc['metadata']['name']}"


def dry_run(cluster: Cluster, namespace: str, docs: list[dict[str, Any]]) -> DryRun:
    """`kubectl apply --dry-run=server` of all `docs` at once (kubectl goes on past a rejected object)."""
    stream = "".join(f"---\n{yamlio.dump(doc, sort_keys=False)}" for doc in docs)
    proc = cluster.run("apply", "--dry-run=server", "-n", namespace, "-f", "-", check=False, input=stream)
    said = DryRun()
    for line in proc.stdout.splitlines():
        accepted = re.fullmatch(r"(\S+) \S+ \(server dry run\)", line.strip())
        if accepted:
            said.accepted.add(accepted.group(1))
    for line in proc.stderr.splitlines():
        if line.startswith("Warning:"):
            said.warnings.append(line)
        elif said.errors and (line.startswith("* ") or line[:1].isspace()):
            said.errors[-1] = f"{said.errors[-1].rstrip()} {line.strip()}"  # kubectl lists an object's causes below it
        elif line.strip():
            said.errors.append(line)
    if proc.returncode != 0 and not said.errors:
        said.errors.append(f"kubectl exited {proc.returncode} without saying why")
    return said


def render(program: Run, namespace: str, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The chart rendered with the program's Release values (or `values`), for the scratch namespace."""
    release = program.release.inputs["name"]
    return plan.render_chart(CHART_DIR, copy.deepcopy(values or program.values), release, namespace)


def split(docs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The objects to ask about, and the ones left out: test hooks, and kinds this cluster has no API for."""
    asked, left_out = [], []
    for doc in docs:
        hook = (doc["metadata"].get("annotations") or {}).get("helm.sh/hook")
        if hook == TEST_HOOK:
            left_out.append(f"{doc['kind']}/{doc['metadata']['name']} (helm test hook)")
        elif doc["kind"] in NO_API_HERE:
            left_out.append(f"{doc['kind']}/{doc['metadata']['name']} (no {doc['kind']} API on this cluster)")
        else:
            asked.append(doc)
    return asked, left_out


@pytest.fixture(scope="module")
def scratch(cluster: Cluster) -> Iterator[str]:
    """A namespace for this module only, with the Pod Security labels of the stack's own Namespace; deleted after."""
    (namespace,) = variant("prod").recording.of_type("kubernetes:core/v1:Namespace")
    labels = {
        k: v
        for k, v in reveal(namespace.inputs)["metadata"]["labels"].items()
        if k.startswith("pod-security.kubernetes.io/")
    }
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted", labels
    name = f"rocketchat-dry-run-{uuid.uuid4().hex[:6]}"
    document = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    cluster.run("apply", "-f", "-", input=json.dumps(document))
    try:
        yield name
    finally:
        cluster.run("delete", "namespace", name, "--wait=true", "--timeout=60s", check=False)


def test_the_charts_objects_of_every_variant_are_accepted(cluster: Cluster, scratch: str) -> None:
    assert {"prod", "monolith", "bundled-nats", "in-cluster-mongodb", "v7.6.2"} <= set(VARIANTS)
    failures: list[str] = []
    left_out: dict[str, list[str]] = {}
    other_warnings: list[str] = []
    asked_total = 0
    t0 = time.monotonic()
    for name in VARIANTS:
        asked, left_out[name] = split(render(variant(name), scratch))
        assert len(asked) >= 5, f"{name}: the chart rendered only {len(asked)} objects"
        assert "deployment.apps/rocketchat-rocketchat" in {reference(d) for d in asked}, name
        asked_total += len(asked)
        said = dry_run(cluster, scratch, asked)
        failures += [f"{name}: {error}" for error in said.errors]
        missing = sorted({reference(d) for d in asked} - said.accepted)
        if missing and not said.errors:
            failures.append(f"{name}: not accepted, and no error either: {missing}")
        known = KNOWN_WARNINGS.get(name, ())
        failures += [f"{name}: the chart no longer draws this warning: {w}" for w in known if w not in said.warnings]
        for warning in [w for w in said.warnings if w not in known]:
            (failures if any(w in warning for w in FAILING_WARNINGS) else other_warnings).append(f"{name}: {warning}")
    TIMINGS[f"chart dry-run ({len(VARIANTS)} variants, {asked_total} objects)"] = time.monotonic() - t0
    assert not failures, "the API server refused (or warned about) the chart's objects:\n" + "\n".join(failures)
    REPORT.append(f"chart dry-run: {asked_total} objects of {', '.join(VARIANTS)} accepted by the API server")
    REPORT.extend(f"chart dry-run: known chart warning, {n}: {w}" for n in VARIANTS for w in KNOWN_WARNINGS.get(n, ()))
    REPORT.extend(f"chart dry-run: warning, {w}" for w in other_warnings)
    REPORT.extend(f"chart dry-run: not asked, {n}: {o}" for n, objects in left_out.items() for o in objects)


def test_the_old_tmp_values_are_rejected_as_they_were_in_production(cluster: Cluster, scratch: str) -> None:
    # The values before commit ff5000d: the chart's extra volumes as plain lists, which it adds to every Rocket.Chat
    # Deployment, the monolith included, whose template already has a `tmp` volume at /tmp.
    program = variant("prod")
    values = copy.deepcopy(program.values)
    values["extraVolumes"] = [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
    values["extraVolumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    asked, _ = split(render(program, scratch, values))
    t0 = time.monotonic()
    said = dry_run(cluster, scratch, asked)
    TIMINGS["chart dry-run (the old tmp values rejected)"] = time.monotonic() - t0

    assert len(said.errors) == 1, said.errors  # the monolith's Deployment, and nothing else
    (error,) = said.errors
    assert 'Deployment "rocketchat-rocketchat" is invalid' in error, error
    assert 'spec.template.spec.volumes[2].name: Duplicate value: "tmp"' in error, error
    assert 'spec.template.spec.containers[0].volumeMounts[2].mountPath: Invalid value: "/tmp": must be unique' in error
    assert said.accepted == {reference(d) for d in asked} - {"deployment.apps/rocketchat-rocketchat"}
    assert "deployment.apps/rocketchat-account" in said.accepted  # the services had no /tmp of their own


def test_the_scratch_namespace_warns_of_pods_that_break_the_restricted_standard(cluster: Cluster, scratch: str) -> None:
    # The PodSecurity check above is not vacuous: the account service without its container securityContext (the
    # chart sets none of its own) is accepted, with the warning that its pods would be refused.
    program = variant("prod")
    values = copy.deepcopy(program.values)
    del values["microservices"]["account"]["securityContext"]
    asked = [d for d in split(render(program, scratch, values))[0] if d["metadata"]["name"] == "rocketchat-account"]
    assert {reference(d) for d in asked} == {"deployment.apps/rocketchat-account", "service/rocketchat-account"}
    said = dry_run(cluster, scratch, asked)
    assert said.errors == [] and said.accepted == {reference(d) for d in asked}
    (warning,) = said.warnings
    assert warning.startswith('Warning: would violate PodSecurity "restricted:latest": '), warning
    assert "allowPrivilegeEscalation != false" in warning and "runAsNonRoot != true" in warning, warning
