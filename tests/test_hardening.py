"""Issue 4's "Must show", checked over the dumped manifests of the dev stack and the prod stack switched to raw:
restricted pods, a PodDisruptionBudget for every replicated workload, NATS behind a NetworkPolicy that admits clients
only from the Rocket.Chat pods, and a namespace that enforces the restricted profile.

The checks are written from the Kubernetes semantics (tools.restricted, the label-selector rules below), not from the
components' own helpers, so that they can disagree with the code.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tools.engine import Recording
from tools.manifests import kubernetes_objects
from tools.restricted import pod_template, violations

RAW_STACKS = ["dev", "prod_raw", "prod_raw_observed"]
# Images of Rocket.Chat processes (the monolith and every microservice), told apart by image, not by label.
ROCKETCHAT_IMAGE = re.compile(r"^(registry\.rocket\.chat/rocketchat/rocket\.chat|.*/rocketchat/[a-z-]+-service):")
NATS_CLIENT_PORT, NATS_ROUTE_PORT, MONGODB_PORT, WEB_PORT = 4222, 6222, 27017, 3000


def manifests(request: pytest.FixtureRequest, stack: str, show_secrets: bool = False) -> list[dict[str, Any]]:
    recording: Recording = request.getfixturevalue(stack)
    return kubernetes_objects(recording, show_secrets)


def workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`Kind/name` -> object, for every object that runs pods."""
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs if pod_template(d) is not None}


def image(workload: dict[str, Any]) -> str:
    return pod_template(workload)["spec"]["containers"][0]["image"]


def matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics: matchLabels AND every matchExpression; an empty selector matches all."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def selected(selector: dict[str, Any] | None, pods: dict[str, dict[str, Any]]) -> set[str]:
    return {name for name, w in pods.items() if matches(selector, pod_template(w)["metadata"]["labels"])}


# --------------------------------------------------------------------------------------------------------------
# Restricted pods
# --------------------------------------------------------------------------------------------------------------

COMPLIANT_POD: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "example"},
    "spec": {
        "template": {
            "metadata": {"labels": {"app": "example"}},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 65533,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "volumes": [{"name": "tmp", "emptyDir": {}}],
                "containers": [
                    {
                        "name": "app",
                        "image": "example:1",
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True,
                        },
                    }
                ],
            },
        }
    },
}


def _set(path: str, value: Any) -> dict[str, Any]:
    """COMPLIANT_POD with one field changed (`value` None deletes it); path is dotted, `0` indexes a list."""
    doc = copy.deepcopy(COMPLIANT_POD)
    node: Any = doc["spec"]["template"]["spec"]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if value is None:
        node.pop(last)
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        ("securityContext.runAsNonRoot", None, "runAsNonRoot is not true"),
        ("securityContext.runAsNonRoot", False, "runAsNonRoot is not true"),
        ("containers.0.securityContext.runAsNonRoot", False, "runAsNonRoot is not true"),
        ("securityContext.runAsUser", None, "no runAsUser"),
        ("containers.0.securityContext.runAsUser", 0, "runAsUser is 0"),
        ("securityContext.seccompProfile", None, "no seccompProfile"),
        ("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}, "seccompProfile Unconfined"),
        ("containers.0.securityContext.allowPrivilegeEscalation", None, "allowPrivilegeEscalation is not false"),
        ("containers.0.securityContext.allowPrivilegeEscalation", True, "allowPrivilegeEscalation is not false"),
        ("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}, "do not drop ALL"),
        ("containers.0.securityContext.capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}, "add SYS_ADMIN"),
        ("containers.0.securityContext.privileged", True, "privileged"),
        ("containers.0.securityContext.readOnlyRootFilesystem", False, "readOnlyRootFilesystem is not true"),
        ("containers.0.ports", [{"containerPort": 80, "hostPort": 80}], "hostPort 80"),
        ("automountServiceAccountToken", None, "automountServiceAccountToken is not false"),
        ("hostNetwork", True, "hostNetwork is on"),
        ("volumes", [{"name": "root", "hostPath": {"path": "/"}}], "type hostPath is not allowed"),
    ],
)
def test_the_restricted_check_catches_each_violation(path: str, value: Any, complaint: str) -> None:
    assert violations(COMPLIANT_POD) == []
    found = violations(_set(path, value))
    assert len(found) == 1 and complaint in found[0], found


def test_the_restricted_check_catches_an_init_container_too() -> None:
    doc = copy.deepcopy(COMPLIANT_POD)
    doc["spec"]["template"]["spec"]["initContainers"] = [{"name": "chown", "image": "busybox:1"}]
    found = violations(doc)
    assert found and all(p.startswith("initContainer chown:") for p in found)


@pytest.mark.parametrize("stack", [*RAW_STACKS, "prod"])
def test_every_pod_meets_the_restricted_profile(request: pytest.FixtureRequest, stack: str) -> None:
    pods = workloads(manifests(request, stack))
    # Rocket.Chat workloads, NATS and (dev) MongoDB
    expected = {"dev": 7, "prod_raw": 6, "prod_raw_observed": 6, "prod": 1}[stack]
    assert len(pods) == expected, sorted(pods)
    problems = {name: violations(doc) for name, doc in pods.items()}
    assert {name: found for name, found in problems.items() if found} == {}
    for doc in pods.values():  # the issue's numbers: a non-zero UID for every container, the images' 65533 for ours
        uid = pod_template(doc)["spec"]["securityContext"]["runAsUser"]
        assert uid >= 10000 and (not ROCKETCHAT_IMAGE.match(image(doc)) or uid == 65533)


@pytest.mark.parametrize("stack", [*RAW_STACKS, "prod"])
def test_every_container_is_sized_probed_and_pulls_an_exact_tag(request: pytest.FixtureRequest, stack: str) -> None:
    found = workloads(manifests(request, stack))
    # Helm mode leaves Rocket.Chat's pods to the chart (tests/test_release_chart.py); our NATS runs in every mode.
    assert "StatefulSet/rocketchat-nats" in found, sorted(found)
    assert stack == "prod" or "Deployment/rocketchat-rocketchat" in found, sorted(found)
    for name, doc in found.items():
        for container in pod_template(doc)["spec"]["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], name
            assert "readinessProbe" in container and ("livenessProbe" in container or "startupProbe" in container)
            assert container["imagePullPolicy"] == "Always", name
            assert re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+\.\d+(-[a-z0-9.]+)?", container["image"]), container["image"]


# --------------------------------------------------------------------------------------------------------------
# PodDisruptionBudgets
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", RAW_STACKS)
def test_every_replicated_workload_has_a_budget_that_selects_exactly_its_pods(
    request: pytest.FixtureRequest, stack: str
) -> None:
    docs = manifests(request, stack)
    pods = workloads(docs)
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    replicated = {name: w["spec"]["replicas"] for name, w in pods.items() if w["spec"].get("replicas", 1) >= 2}
    if stack == "prod_raw":  # monolith 3, account/authorization/presence 2, ddp-streamer 10, NATS 3
        assert len(replicated) == 6, replicated

    for name, replicas in replicated.items():
        namespace = pods[name]["metadata"]["namespace"]
        guarding = [
            b
            for b in budgets
            if b["metadata"]["namespace"] == namespace and name in selected(b["spec"]["selector"], pods)
        ]
        assert len(guarding) == 1, f"{name}: {len(guarding)} budgets"
        (budget,) = guarding
        assert selected(budget["spec"]["selector"], pods) == {name}, "a budget must not span workloads"
        spec = budget["spec"]
        # Drains may proceed (at least one pod may go) and never empty the workload (at least one stays).
        if "maxUnavailable" in spec:
            assert 1 <= spec["maxUnavailable"] < replicas, (name, spec)
        else:
            assert 1 <= spec["minAvailable"] < replicas, (name, spec)
    # And no budget guards a workload that cannot spare a pod (it would block every node drain).
    for budget in budgets:
        for name in selected(budget["spec"]["selector"], pods):
            assert name in replicated, f"{budget['metadata']['name']} guards single-replica {name}"


# --------------------------------------------------------------------------------------------------------------
# NetworkPolicies
# --------------------------------------------------------------------------------------------------------------


def allowed_sources(docs: list[dict[str, Any]], target: str, port: int) -> tuple[set[str], list[str]]:
    """Which of the namespace's workloads may reach `port` of workload `target`, and any wider sources
    (other namespaces, IP blocks, everyone). A pod that no policy selects is open to all."""
    pods = workloads(docs)
    namespace = pods[target]["metadata"]["namespace"]
    labels = pod_template(pods[target])["metadata"]["labels"]
    policies = [
        p
        for p in docs
        if p["kind"] == "NetworkPolicy"
        and p["metadata"]["namespace"] == namespace
        and "Ingress" in (p["spec"].get("policyTypes") or ["Ingress"])
        and matches(p["spec"]["podSelector"], labels)
    ]
    if not policies:
        return set(pods), ["no NetworkPolicy selects these pods: everyone may connect"]
    sources: set[str] = set()
    wider: list[str] = []
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port for p in ports):
                continue
            peers = rule.get("from")
            if not peers:
                wider.append(f"{policy['metadata']['name']}: from everyone")
                continue
            for peer in peers:
                if "ipBlock" in peer or "namespaceSelector" in peer:
                    wider.append(f"{policy['metadata']['name']}: {peer}")
                else:
                    sources |= selected(peer.get("podSelector"), pods)
    return sources, wider


def _by_image(docs: list[dict[str, Any]], pattern: str) -> set[str]:
    return {name for name, w in workloads(docs).items() if re.search(pattern, image(w))}


@pytest.mark.parametrize("stack", RAW_STACKS)
def test_nats_admits_clients_only_from_rocketchat_pods_and_routes_only_from_its_peers(
    request: pytest.FixtureRequest, stack: str
) -> None:
    docs = manifests(request, stack)
    rocketchat = {n for n, w in workloads(docs).items() if ROCKETCHAT_IMAGE.match(image(w))}
    (nats,) = _by_image(docs, r"/nats:")
    assert len(rocketchat) == 5  # monolith, account, authorization, presence, ddp-streamer

    clients, wider = allowed_sources(docs, nats, NATS_CLIENT_PORT)
    assert (clients, wider) == (rocketchat, [])
    routes, wider = allowed_sources(docs, nats, NATS_ROUTE_PORT)
    assert (routes, wider) == ({nats}, [])


@pytest.mark.parametrize("stack", RAW_STACKS)
def test_the_ingress_controller_reaches_the_web_port_of_the_monolith_and_ddp_streamer_alone(
    request: pytest.FixtureRequest, stack: str
) -> None:
    """The controller's namespace may open the web port of the two workloads the Ingress routes to; account,
    authorization and presence listen on it too, and stay closed to it."""
    docs = manifests(request, stack)
    rocketchat = {n for n, w in workloads(docs).items() if ROCKETCHAT_IMAGE.match(image(w))}
    controller = "{'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': 'ingress-nginx'}}}"
    reached = {
        name for name in rocketchat if any(w.endswith(controller) for w in allowed_sources(docs, name, WEB_PORT)[1])
    }
    assert reached == {n for n in rocketchat if n.endswith(("-rocketchat", "-ddp-streamer"))}
    assert len(reached) == 2


def _nats_policy(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("-nats")]
    return policy


@pytest.mark.parametrize(
    ("change", "clients", "wider"),
    [
        ("no-policies", "everyone", "no NetworkPolicy"),
        ("client-rule-from-every-pod", "every pod", ""),
        ("client-rule-from-another-namespace", "rocketchat", "namespaceSelector"),
        ("extra-rule-without-ports-from-everyone", "rocketchat", "from everyone"),
        ("client-rule-dropped", "nobody", ""),
    ],
)
def test_the_network_policy_check_catches_wider_or_missing_access(
    request: pytest.FixtureRequest, change: str, clients: str, wider: str
) -> None:
    docs = copy.deepcopy(manifests(request, "prod_raw"))
    pods = workloads(docs)
    (nats,) = _by_image(docs, r"/nats:")
    rocketchat = {n for n, w in pods.items() if ROCKETCHAT_IMAGE.match(image(w))}
    rules = _nats_policy(docs)["spec"]["ingress"]
    client_rule = next(r for r in rules if r["ports"][0]["port"] == NATS_CLIENT_PORT)
    if change == "no-policies":
        docs = [d for d in docs if d["kind"] != "NetworkPolicy"]
    elif change == "client-rule-from-every-pod":
        client_rule["from"] = [{"podSelector": {}}]
    elif change == "client-rule-from-another-namespace":
        client_rule["from"].append({"namespaceSelector": {"matchLabels": {"team": "other"}}})
    elif change == "extra-rule-without-ports-from-everyone":
        rules.append({})
    else:
        rules.remove(client_rule)
    sources, found = allowed_sources(docs, nats, NATS_CLIENT_PORT)
    expected = {"everyone": set(pods), "every pod": set(pods), "rocketchat": rocketchat, "nobody": set()}[clients]
    assert sources == expected
    assert (wider in " ".join(found)) if wider else found == []
    assert (sources, found) != (rocketchat, [])  # what the real test demands is not met


def test_in_cluster_mongodb_admits_only_rocketchat_pods_and_its_own_members(request: pytest.FixtureRequest) -> None:
    docs = manifests(request, "dev")
    rocketchat = {n for n, w in workloads(docs).items() if ROCKETCHAT_IMAGE.match(image(w))}
    (mongodb,) = _by_image(docs, r"/mongo:")
    assert allowed_sources(docs, mongodb, MONGODB_PORT) == (rocketchat | {mongodb}, [])


@pytest.mark.parametrize("stack", RAW_STACKS)
def test_nats_requires_the_credentials_the_rocketchat_pods_are_given(
    request: pytest.FixtureRequest, stack: str
) -> None:
    """The server config demands a user and password, and TRANSPORTER (from a Secret) carries exactly those."""
    docs = manifests(request, stack, show_secrets=True)
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    config = secrets["rocketchat-nats-config"]["stringData"]["nats.conf"]
    user, password = re.search(r'users: \[\{ user: "([^"]+)", password: "([^"]+)" \}\]', config).groups()
    assert user and password

    for name in (n for n, w in workloads(docs).items() if ROCKETCHAT_IMAGE.match(image(w))):
        container = pod_template(workloads(docs)[name])["spec"]["containers"][0]
        (transporter,) = [e for e in container["env"] if e["name"] == "TRANSPORTER"]
        ref = transporter["valueFrom"]["secretKeyRef"]
        url = secrets[ref["name"]]["stringData"][ref["key"]]
        host = r"rocketchat-nats\.[a-z0-9-]+\.svc\.cluster\.local"
        assert re.fullmatch(rf"(monolith\+)?nats://{user}:{re.escape(password)}@{host}:4222", url)


# --------------------------------------------------------------------------------------------------------------
# The namespace
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", [*RAW_STACKS, "prod"])
def test_the_namespace_enforces_the_restricted_profile_on_every_object(
    request: pytest.FixtureRequest, stack: str
) -> None:
    docs = manifests(request, stack)
    (namespace,) = [d for d in docs if d["kind"] == "Namespace"]
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels.get("pod-security.kubernetes.io/enforce-version", "latest") == "latest"
    name = namespace["metadata"]["name"]
    assert name != "default"
    assert {d["metadata"].get("namespace") for d in docs if d is not namespace} == {name}
