"""The program's Release values, rendered by real Helm against the OFFICIAL rocketchat chart.

The values are exactly those the program passes to its helm.v3.Release (taken from the recording engine, for
Pulumi.prod.yaml and variants of it), and the chart is the pinned version with its dependencies. Run:

    eval "$(scripts/fetch-chart)"      # or: export ROCKETCHAT_CHART_DIR=/path/to/rocketchat
    venv/bin/python -m pytest tests/test_release_chart.py

Without ROCKETCHAT_CHART_DIR they render the chart scripts/fetch-chart keeps in its cache; without either the module is
skipped, saying so.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tools.plan.render import CHART_DIR_ENV, pinned_chart_dir

if pinned_chart_dir() is None:
    pytest.skip(
        f"{CHART_DIR_ENV} is not set and scripts/fetch-chart has no chart in its cache: these tests render the "
        f'official rocketchat chart with real Helm. Fetch the pinned chart with `eval "$(scripts/fetch-chart)"` '
        "(needs network) and run them again.",
        allow_module_level=True,
    )

import helm_python
import kubernetes_validate

from components.catalog import APP_PORT
from tests.release_support import VARIANTS, Run, variant
from tools import plan, restricted
from tools.engine import PLACEHOLDER_SECRETS, reveal
from tools.manifests import release_values

CHART_DIR = pinned_chart_dir()
ALL = list(VARIANTS)
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
# Chart 7.0.2 renders these as Helm test hooks: created by `helm test` only, never by an install or upgrade.
TEST_HOOK = "test"


def render(values: dict[str, Any], name: str, namespace: str) -> list[dict[str, Any]]:
    """Every object the chart renders for these values, as `tools.plan` renders it (NOTES.txt left out)."""
    return plan.render_chart(Path(CHART_DIR), copy.deepcopy(values), name, namespace)


@dataclass
class Rendered:
    name: str
    program: Run
    docs: list[dict[str, Any]]

    @property
    def release(self) -> str:
        return self.program.release.inputs["name"]

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        found = [d for d in self.docs if d["kind"] == kind]
        named = {d["metadata"]["name"]: d for d in found}
        assert len(named) == len(found), f"two {kind}s with one name"
        return named

    def workloads(self) -> dict[str, dict[str, Any]]:
        """Deployments and StatefulSets (what an install creates pods from)."""
        return {n: d for k in WORKLOAD_KINDS for n, d in self.of_kind(k).items()}

    def containers(self, workload: dict[str, Any]) -> list[dict[str, Any]]:
        spec = workload["spec"]["template"]["spec"]
        return spec.get("initContainers", []) + spec["containers"]

    def selected(self, selector: dict[str, str]) -> list[dict[str, Any]]:
        """Deployments whose pods carry every label of `selector`."""
        return [
            d
            for d in self.of_kind("Deployment").values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]


@cache
def rendered(name: str) -> Rendered:
    program = variant(name)
    release = program.release
    (values,) = release_values(program.recording).values()  # the values the program passes, as tools show them
    assert values == program.values
    return Rendered(name, program, render(values, name=release.inputs["name"], namespace=release.inputs["namespace"]))


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries = container.get("env") or []
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), f"{container['name']}: duplicate env vars {names}"
    return {e["name"]: e for e in entries}


def secret_ref(entry: dict[str, Any]) -> tuple[str, str]:
    ref = entry["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


# --- the chart itself ---------------------------------------------------------------------------------------------


def test_the_chart_is_the_pinned_version_with_its_dependencies() -> None:
    chart = helm_python.Chart.load(CHART_DIR)
    assert chart.name == "rocketchat"
    assert chart.version == variant("prod").release.inputs["version"], "ROCKETCHAT_CHART_DIR is another version"
    # Missing subcharts are dropped silently by a render: the NATS/MongoDB variants would test nothing.
    assert {"nats", "mongodb"} <= {d["name"] for d in chart.dependencies}, (
        "chart without charts/: use scripts/fetch-chart"
    )


# --- workloads and replicas ---------------------------------------------------------------------------------------


def test_prod_renders_the_replicas_pulumi_prod_yaml_asks_for() -> None:
    deployments = rendered("prod").of_kind("Deployment")
    assert {n: d["spec"]["replicas"] for n, d in deployments.items()} == {
        "rocketchat-rocketchat": 3,
        "rocketchat-account": 2,
        "rocketchat-authorization": 2,
        "rocketchat-presence": 2,
        "rocketchat-ddp-streamer": 10,  # 5000 concurrent users, one per 500
    }


@pytest.mark.parametrize("name", ALL)
def test_deployments_and_replicas_match_the_stack(name: str) -> None:
    result = rendered(name)
    exported = result.program.recording.outputs["replicas"]  # the program's own account of what runs
    expected = {f"{result.release}-{w}": n for w, n in exported.items() if w not in ("nats", "mongodb")}
    assert {n: d["spec"]["replicas"] for n, d in result.of_kind("Deployment").items()} == expected

    statefulsets = {n: d["spec"]["replicas"] for n, d in result.of_kind("StatefulSet").items()}
    if name == "bundled-nats":
        assert statefulsets == {"rocketchat-nats": exported["nats"]} == {"rocketchat-nats": 3}
    elif name == "in-cluster-mongodb":
        assert statefulsets == {"rocketchat-mongodb": exported["mongodb"]} == {"rocketchat-mongodb": 3}
    else:
        assert statefulsets == {}  # NATS is the program's NatsCluster; MongoDB is external


@pytest.mark.parametrize("name", ALL)
def test_stream_hub_is_deployed_by_version(name: str) -> None:
    result = rendered(name)
    wanted = name in ("v7.6.2", "v7.7.4-stream-hub")
    assert ("rocketchat-stream-hub" in result.of_kind("Deployment")) is wanted
    assert ("rocketchat-stream-hub" in result.of_kind("Service")) is wanted
    if wanted:
        assert result.of_kind("Deployment")["rocketchat-stream-hub"]["spec"]["replicas"] == 1


# --- MongoDB, NATS and the licence from the program's Secrets ------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_every_rocketchat_container_reads_mongo_and_transporter_from_the_programs_secrets(name: str) -> None:
    result = rendered(name)
    secrets = result.program.secrets()
    deployments = result.of_kind("Deployment")
    assert deployments
    for deployment in deployments.values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = env_of(container)
        mongo_secret, mongo_key = secret_ref(env["MONGO_URL"])
        assert mongo_key == "mongo-uri" and mongo_key in secrets[mongo_secret]
        transporter = env["TRANSPORTER"]  # never missing (the chart can leave it out altogether)
        if name == "bundled-nats":
            # The chart's NATS has no auth: the address is a literal without credentials, to a Service it renders.
            assert transporter == {"name": "TRANSPORTER", "value": f"nats://{result.release}-nats:4222"}
            assert 4222 in [p["port"] for p in result.of_kind("Service")[f"{result.release}-nats"]["spec"]["ports"]]
        else:
            bus_secret, bus_key = secret_ref(transporter)
            scheme = "monolith+nats://" if name == "monolith" else "nats://"
            assert secrets[bus_secret][bus_key].startswith(scheme)


@pytest.mark.parametrize("name", ALL)
def test_every_secret_a_pod_reads_exists_with_that_key(name: str) -> None:
    result = rendered(name)
    program_secrets = result.program.secrets()
    chart_secrets = {
        n: {**(d.get("data") or {}), **(d.get("stringData") or {})} for n, d in result.of_kind("Secret").items()
    }
    refs = []
    for workload in result.workloads().values():
        for container in result.containers(workload):
            refs += [secret_ref(e) for e in container.get("env") or [] if "secretKeyRef" in e.get("valueFrom", {})]
    assert refs
    for secret, key in refs:
        data = program_secrets.get(secret, chart_secrets.get(secret))
        assert data is not None, f"{secret} is neither created by the program nor by the chart"
        assert key in data, f"{secret} has no key {key}"
        assert secret in program_secrets, f"{secret}/{key}: a chart-made Secret, so its content came from values"


@pytest.mark.parametrize("name", ALL)
def test_the_licence_is_never_a_literal(name: str) -> None:
    result = rendered(name)
    licences = [
        e
        for workload in result.workloads().values()
        for container in result.containers(workload)
        for e in container.get("env") or []
        if e["name"] == "ROCKETCHAT_LICENSE"
    ]
    assert len(licences) == 1  # the monolith's
    assert secret_ref(licences[0]) == ("rocketchat-license", "license")
    monolith = env_of(
        result.of_kind("Deployment")["rocketchat-rocketchat"]["spec"]["template"]["spec"]["containers"][0]
    )
    assert "LICENSE_DEBUG" not in monolith  # set only by the chart's `license` value path


@pytest.mark.parametrize("name", ALL)
def test_no_plain_text_credential_in_any_rendered_object(name: str) -> None:
    result = rendered(name)
    program = result.program
    credentials = {
        *PLACEHOLDER_SECRETS.values(),
        "placeholder-password",
        "changeme",  # the chart's default bundled MongoDB password
        *program.generated_passwords(),
        *program.rollout_keys(),
        *(v for data in program.secrets().values() for v in data.values()),
    }
    assert result.docs and credentials
    for doc in result.docs:
        if doc["kind"] == "Secret":
            # The chart always renders `<release>-rocketchat`; with every credential in our Secrets it stays empty.
            assert not doc.get("data") and not doc.get("stringData"), doc["metadata"]["name"]
            continue
        text = json.dumps(doc)
        assert [c for c in credentials if c in text] == [], f"{doc['kind']} {doc['metadata']['name']}"


# --- routing: no chart Ingress; the program's Ingress targets Services the chart renders ---------------------------


@pytest.mark.parametrize("name", ALL)
def test_no_chart_ingress(name: str) -> None:
    assert rendered(name).of_kind("Ingress") == {}


@pytest.mark.parametrize("name", ALL)
def test_the_programs_ingress_backends_exist_in_the_chart(name: str) -> None:
    result = rendered(name)
    (ingress,) = result.program.recording.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    paths = reveal(ingress.inputs)["spec"]["rules"][0]["http"]["paths"]
    backends = {p["path"]: (p["backend"]["service"]["name"], p["backend"]["service"]["port"]["name"]) for p in paths}
    rel = result.release
    if name == "monolith":
        assert backends == {"/": (f"{rel}-rocketchat", "http")}
    else:
        assert backends == {
            "/websocket": (f"{rel}-ddp-streamer", "http"),
            "/sockjs": (f"{rel}-ddp-streamer", "http"),
            "/": (f"{rel}-rocketchat", "http"),
        }

    services = result.of_kind("Service")
    for service_name, port_name in set(backends.values()):
        service = services[service_name]
        (port,) = [p for p in service["spec"]["ports"] if p.get("name") == port_name]
        (deployment,) = result.selected(service["spec"]["selector"])
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        target = port["targetPort"]
        matches = [p for p in container["ports"] if target in (p.get("name"), p["containerPort"])]
        assert [p["containerPort"] for p in matches] == [APP_PORT], f"{service_name}:{port_name} -> {target}"


@pytest.mark.parametrize("name", ALL)
def test_root_url_is_set_once_to_the_stacks_url(name: str) -> None:
    result = rendered(name)
    monolith = result.of_kind("Deployment")[f"{result.release}-rocketchat"]
    env = env_of(monolith["spec"]["template"]["spec"]["containers"][0])  # also: no duplicate names
    assert env["ROOT_URL"]["value"] == result.program.recording.outputs["url"] == "https://chat.example.com"


# --- the conversion path, as Helm sees it --------------------------------------------------------------------------


def test_monolith_and_microservices_renders_keep_the_monolith_objects() -> None:
    # helm upgrade patches objects in place; a Deployment whose selector changed could not be patched.
    monolith, microservices = rendered("monolith"), rendered("prod")
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        before, after = (
            monolith.of_kind(kind)["rocketchat-rocketchat"],
            microservices.of_kind(kind)["rocketchat-rocketchat"],
        )
        assert before["spec"]["selector"] == after["spec"]["selector"], kind
    assert set(monolith.of_kind("Deployment")) == {"rocketchat-rocketchat"}


# --- disruption budgets and pod security ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["prod", "v7.6.2"])
def test_every_replicated_deployment_has_exactly_one_disruption_budget(name: str) -> None:
    result = rendered(name)
    budgets = [reveal(r.inputs)["spec"] for r in result.program.recording.of_type("PodDisruptionBudget")]
    budgets = [b for b in budgets if "nats" not in b["selector"]["matchLabels"].get("app.kubernetes.io/name", "")]
    budgets += [d["spec"] for d in result.of_kind("PodDisruptionBudget").values()]
    covered: list[str] = []
    for budget in budgets:
        (deployment,) = result.selected(budget["selector"]["matchLabels"])
        covered.append(deployment["metadata"]["name"])
    replicated = sorted(n for n, d in result.of_kind("Deployment").items() if d["spec"]["replicas"] > 1)
    assert sorted(covered) == replicated


@pytest.mark.parametrize("name", ALL)
def test_every_replicated_deployment_spreads_its_own_pods_over_nodes_and_zones(name: str) -> None:
    """As raw mode's topology spread does: preferred anti-affinity, per node then per zone, selecting the very pods of
    the Deployment (its template's labels), nothing for a single pod."""
    for deployment in rendered(name).of_kind("Deployment").values():
        spec = deployment["spec"]
        preferred = (
            (spec["template"]["spec"].get("affinity") or {})
            .get("podAntiAffinity", {})
            .get("preferredDuringSchedulingIgnoredDuringExecution", [])
        )
        if spec["replicas"] < 2:
            assert preferred == [], deployment["metadata"]["name"]
            continue
        assert [(t["podAffinityTerm"]["topologyKey"], t["weight"]) for t in preferred] == [
            ("kubernetes.io/hostname", 100),
            ("topology.kubernetes.io/zone", 50),
        ], deployment["metadata"]["name"]
        pod_labels = spec["template"]["metadata"]["labels"]
        for term in preferred:
            selector = term["podAffinityTerm"]["labelSelector"]["matchLabels"]
            assert selector.items() <= pod_labels.items()
            assert rendered(name).selected(selector) == [deployment], "the spread selects other pods too"


def restricted_violations(workload: dict[str, Any]) -> list[str]:
    """What the Kubernetes 'restricted' Pod Security Standard would reject in a workload's pods."""
    return restricted.violations(workload, standard_only=True)


@pytest.mark.parametrize("name", ALL)
def test_every_installed_pod_meets_the_restricted_pod_security_standard(name: str) -> None:
    result = rendered(name)
    (namespace,) = result.program.recording.of_type("kubernetes:core/v1:Namespace")
    # The stack's Namespace enforces it: a pod that fails it is rejected by the API server and the release fails.
    assert reveal(namespace.inputs)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload_name, workload in result.workloads().items():
        assert restricted_violations(workload) == [], workload_name
    for pod in result.of_kind("Pod").values():
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == TEST_HOOK  # not installed


def test_the_restricted_check_catches_the_charts_defaults() -> None:
    # The same chart with its own security defaults fails: the check above is not vacuous.
    values = {"image": {"tag": "8.6.1"}, "microservices": {"enabled": True}, "mongodb": {"enabled": True}}
    docs = render(values, name="rocketchat", namespace="rocketchat")
    problems = {d["metadata"]["name"]: restricted_violations(d) for d in docs if d["kind"] in WORKLOAD_KINDS}
    assert "container account-service: allowPrivilegeEscalation is not false" in problems["rocketchat-account"]
    assert any(p.startswith("initContainer volume-permissions:") for p in problems["rocketchat-mongodb"])
    assert any(p.startswith("container nats:") for p in problems["rocketchat-nats"])


@pytest.mark.parametrize("name", ALL)
def test_every_rendered_object_is_valid_kubernetes(name: str) -> None:
    # Strict schema validation catches values the chart copies through unchecked (a misspelt securityContext key).
    docs = rendered(name).docs
    assert len(docs) >= 5, f"{name}: the chart rendered only {len(docs)} objects"
    for doc in docs:
        # Raises ValidationError on the first problem; returns the schema version it used.
        assert kubernetes_validate.validate(doc, "1.30.0", strict=True) == "1.30"


# --- chart limitations docs/helm-chart.md states: if one fails, the chart changed and that page is stale -----------


def test_the_stacks_pod_monitor_finds_every_chart_pod_on_the_charts_port_names() -> None:
    """In helm mode the stack's own PodMonitor (not the chart's) scrapes the chart's pods: selected by the instance
    label the chart's pods carry, on the port names the chart gives them."""
    chart = rendered("monitored")
    assert not [d for d in chart.docs if d["kind"] == "PodMonitor"], "the chart's PodMonitor stays off"
    monitor = reveal(chart.program.recording.one("PodMonitor", "rocketchat").inputs)["spec"]
    endpoints = [e["port"] for e in monitor["podMetricsEndpoints"]]
    scraped = chart.selected(monitor["selector"]["matchLabels"])
    names = {d["metadata"]["name"] for d in scraped}
    assert names == set(chart.of_kind("Deployment")), "every chart Deployment, and only those"
    assert len(names) == 5  # 8.6.1: the monolith, account, authorization, presence, ddp-streamer
    found: set[str] = set()
    for deployment in scraped:
        ports = {p["name"] for c in deployment["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        assert "ms-metrics" in ports, deployment["metadata"]["name"]  # every process's Moleculer metrics
        found |= ports & set(endpoints)
    assert found == set(endpoints), "an endpoint whose port no chart pod has"


def test_limitation_service_pods_have_no_probes_and_retries_stay_off() -> None:
    deployments = rendered("v7.6.2").of_kind("Deployment")
    for service in ("account", "authorization", "presence", "stream-hub"):
        (container,) = deployments[f"rocketchat-{service}"]["spec"]["template"]["spec"]["containers"]
        assert "livenessProbe" not in container and "readinessProbe" not in container
        assert env_of(container)["RETRY_ENABLED"]["value"] == "yes"  # Rocket.Chat only honours "true"
        assert "PORT" not in env_of(container)
    strategy = deployments["rocketchat-stream-hub"]["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def deployment_in(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name]
    return found


def test_limitation_the_license_value_is_a_literal_env_var() -> None:
    values = copy.deepcopy(rendered("prod").program.values)
    values["extraEnv"] = [e for e in values["extraEnv"] if e["name"] != "ROCKETCHAT_LICENSE"]
    values["license"] = "licence-text"
    monolith = deployment_in(render(values, "rocketchat", "rocketchat"), "rocketchat-rocketchat")
    assert env_of(monolith["spec"]["template"]["spec"]["containers"][0])["ROCKETCHAT_LICENSE"] == {
        "name": "ROCKETCHAT_LICENSE",
        "value": "licence-text",
    }


def test_limitation_nats_comes_along_unless_explicitly_disabled() -> None:
    def statefulsets(values: dict[str, Any]) -> set[str]:
        return {d["metadata"]["name"] for d in render(values, "rocketchat", "rocketchat") if d["kind"] == "StatefulSet"}

    # Microservices with an existingSecret but no `nats.enabled`: _validations.yaml should fail this, but Helm never
    # renders files starting with `_`, so the chart's NATS is deployed beside ours.
    values = copy.deepcopy(rendered("prod").program.values)
    del values["nats"]["enabled"]
    assert "rocketchat-nats" in statefulsets(values)
    # A monolith with no NATS settings at all still gets the chart's NATS (the subchart condition has a stray space).
    values = copy.deepcopy(rendered("monolith").program.values)
    values["nats"] = {}
    assert "rocketchat-nats" in statefulsets(values)
