"""The offline rules checked against the real ones: generated configs the program accepts, sent to the API server.

tests/test_generated_configs.py holds every object of an accepted generated config to the API server's rules as this
project writes them (stack_config/api_rules.py) and to kubernetes-validate's schemas. Here a sample of those configs
(the same generator, derandomized) goes further: every object the program registers for it, and the chart's rendered
objects where the chart is at hand, is asked of the real API server with `kubectl apply --server-side
--dry-run=server` (validation, defaulting, admission and the restricted Pod Security Standard, nothing stored). An
object the API server refuses that the offline check accepted is a rule missing from stack_config/api_rules.py.

Each config's own namespace is asked about as a Namespace object (the program's, or the one a `createNamespace:
false` stack expects to find); its other objects are asked in one scratch namespace labelled as the stack's Namespace
is, so that the run neither creates nor touches a namespace of the generated name (another scenario may use it).

    E2E_GENERATED_CONFIGS=100 venv/bin/python -m pytest tests/e2e/test_generated_configs.py -m e2e -n 0 -rs
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from components.versions import DEFAULT_CHART_VERSION
from stack_config import ConfigError
from tests.config_strategies import stack_config_overrides
from tests.e2e.conftest import REPORT, TIMINGS, Cluster
from tests.test_generated_configs import CHART_DIR_ENV, check_acceptance, parsed_schemas_kept, run_generated
from tools import yamlio
from tools.engine import Recording, Secret

pytestmark = pytest.mark.e2e
__all__ = ["parsed_schemas_kept"]  # the fixture, used here as in the property test

SAMPLE = int(os.environ.get("E2E_GENERATED_CONFIGS", "40"))
"""Accepted generated configs sent to the API server."""
FIELD_MANAGER = "rocketchat-e2e-generated"
CLUSTER_SCOPED = frozenset({"Namespace"})
TEST_HOOK = "test"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
}
REFUSING_WARNINGS = ("would violate PodSecurity",)
UNREACHABLE = ("connection refused", "Unable to connect to the server", "failed to download openapi")
"""Warnings that mean the objects' pods would be refused (the namespace enforces the restricted standard)."""


def chart_dir() -> Path | None:
    """The chart: ROCKETCHAT_CHART_DIR, else the pinned one where scripts/fetch-chart keeps it."""
    given = os.environ.get(CHART_DIR_ENV)
    cache = Path(os.environ.get("ROCKETCHAT_CHART_CACHE") or Path.home() / ".cache" / "rocketchat-chart")
    default = cache / DEFAULT_CHART_VERSION / "rocketchat"
    found = Path(given) if given else default
    return found if (found / "Chart.yaml").is_file() else None


@dataclass
class Accepted:
    overrides: dict[str, Any]
    docs: list[dict[str, Any]]
    """Whole objects: the program's, and the chart's with the program's patches laid over them."""
    patches_alone: int = 0
    """Patches of objects not at hand (no chart): a patch is not an object to create, so it is not asked alone."""


@dataclass
class Verdicts:
    configs: int = 0
    objects: int = 0
    refused: list[str] = field(default_factory=list)
    not_asked: set[str] = field(default_factory=set)
    patches_alone: int = 0


def needs_experimental_crds(overrides: dict[str, Any]) -> bool:
    """`gateway.sessionPersistence` is a field of the Gateway API's experimental channel (the schema says so); this
    cluster serves the standard channel's CRDs, which refuse it as undeclared."""
    gateway = overrides.get("rocketchat:gateway")
    return isinstance(gateway, dict) and gateway.get("sessionPersistence") is True


def accepted_sample(count: int, chart: Path | None, left_out: list[str]) -> list[Accepted]:
    """The first `count` configs the program accepts, of the generator's derandomized sequence (each already past
    the offline checks: an object they refuse fails here as it would in the property test). Configs that need the
    Gateway API's experimental channel are left out, and listed in `left_out`."""
    found: list[Accepted] = []

    @settings(
        max_examples=count * 8,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(overrides=stack_config_overrides())
    def collect(overrides: dict[str, Any]) -> None:
        if len(found) >= count:
            return
        recording = Recording()
        try:
            run_generated(overrides, recording)
        except ConfigError:
            return
        docs, patches = check_acceptance(recording, chart)
        if needs_experimental_crds(overrides):
            left_out.append(shown_config(overrides))
            return
        found.append(Accepted(overrides, docs, len(patches)))

    collect()
    return found


def shown_config(overrides: dict[str, Any]) -> str:
    return json.dumps({k: "<secret>" if isinstance(v, Secret) else v for k, v in overrides.items()}, default=str)


def reference(doc: dict[str, Any]) -> str:
    """How kubectl names an object in its output: `deployment.apps/rocketchat-account`, `service/rocketchat`."""
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
    return f"{doc['kind'].lower()}{'.' + group if group else ''}/{doc['metadata']['name']}"


def ask(cluster: Cluster, namespace: str | None, docs: list[dict[str, Any]]) -> tuple[set[str], list[str]]:
    """One server-side dry-run apply of `docs`: the objects accepted, and every error or refusing warning."""
    stream = "".join(f"---\n{yamlio.dump(doc, sort_keys=False)}" for doc in docs)
    where = ["-n", namespace] if namespace else []
    proc = cluster.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--force-conflicts",
        f"--field-manager={FIELD_MANAGER}",
        *where,
        "-f",
        "-",
        check=False,
        input=stream,
    )
    accepted = {
        m.group(1)
        for line in proc.stdout.splitlines()
        if (m := re.fullmatch(r"(\S+) \S+ \(server dry run\)", line.strip()))
    }
    said = [line for line in proc.stderr.splitlines() if line.strip()]
    unreachable = [line for line in said if any(sign in line for sign in UNREACHABLE)]
    if unreachable:  # not a verdict on the objects: the API server is gone (another run stopped the cluster?)
        raise AssertionError(f"the API server did not answer: {unreachable[0]}")
    refusals = [line for line in said if not line.startswith("Warning:") or any(w in line for w in REFUSING_WARNINGS)]
    missing = sorted({reference(d) for d in docs} - accepted)
    if missing and not refusals:
        refusals.append(f"not accepted, and no error either: {missing}")
    return accepted, refusals


@pytest.fixture(scope="module")
def scratch(cluster: Cluster) -> Iterator[str]:
    name = f"rocketchat-generated-{uuid.uuid4().hex[:6]}"
    document = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
    cluster.run("apply", "-f", "-", input=json.dumps(document))
    try:
        yield name
    finally:
        cluster.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def custom_kinds(request: pytest.FixtureRequest) -> set[str]:
    """The custom resources this cluster serves for the run (the CRD fixtures skip where their files are absent)."""
    served = set()
    for fixture, kinds in (("monitoring_crds", {"PodMonitor", "PrometheusRule"}), ("gateway_crds", {"HTTPRoute"})):
        try:
            request.getfixturevalue(fixture)
        except pytest.skip.Exception:
            continue
        served |= kinds
    return served


def test_the_api_server_accepts_every_object_of_accepted_generated_configs(
    cluster: Cluster, scratch: str, custom_kinds: set[str]
) -> None:
    chart = chart_dir()
    t0 = time.monotonic()
    experimental: list[str] = []
    sample = accepted_sample(SAMPLE, chart, experimental)
    TIMINGS[f"generated configs: {len(sample)} accepted, checked offline"] = time.monotonic() - t0
    assert len(sample) == SAMPLE, f"only {len(sample)} of {SAMPLE} generated configs were accepted"

    t0 = time.monotonic()
    verdicts = Verdicts()
    for accepted in sample:
        namespaces = [d for d in accepted.docs if d["kind"] == "Namespace"]
        own_namespace = next(d["metadata"]["namespace"] for d in accepted.docs if d["metadata"].get("namespace"))
        if not namespaces:  # createNamespace false: the name of the namespace the stack expects, as an object
            namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": own_namespace}}]
        asked, skipped = [], []
        for doc in accepted.docs:
            if doc["kind"] == "Namespace" or (
                (doc["metadata"].get("annotations") or {}).get("helm.sh/hook") == TEST_HOOK
            ):
                continue
            if doc["kind"] in {"PodMonitor", "PrometheusRule", "HTTPRoute"} - custom_kinds:
                skipped.append(doc["kind"])
                continue
            moved = copy.deepcopy(doc)
            moved["metadata"]["namespace"] = scratch
            asked.append(moved)
        verdicts.not_asked |= set(skipped)
        _, refused = ask(cluster, None, namespaces)
        _, refused_here = ask(cluster, scratch, asked)
        verdicts.configs += 1
        verdicts.patches_alone += accepted.patches_alone
        verdicts.objects += len(asked) + len(namespaces)
        verdicts.refused += [f"{shown_config(accepted.overrides)}\n    {r}" for r in refused + refused_here]
    TIMINGS[f"generated configs: {verdicts.objects} objects asked of the API server"] = time.monotonic() - t0

    REPORT.append(
        f"generated configs: {verdicts.configs} accepted configs sent ({verdicts.objects} objects"
        f"{', the chart rendered' if chart else ', no chart at hand'}); refused by the API server though the "
        f"offline check accepted them: {len(verdicts.refused)}; left out for the Gateway API's experimental channel: "
        f"{len(experimental)}; patches whose object was not at hand, not asked: {verdicts.patches_alone}"
        + (
            f"; kinds without an API here, not asked: {', '.join(sorted(verdicts.not_asked))}"
            if verdicts.not_asked
            else ""
        )
    )
    assert not verdicts.refused, "the API server refused what the offline rules accepted:\n" + "\n".join(
        verdicts.refused
    )
