"""The production stack (helm mode) through the real engine: the official chart from a Helm repository on 127.0.0.1,
microservices with several replicas each, our NatsCluster, an external MongoDB URL and a licence set as secrets,
TLS settings, and kwok's nodes. Preview, up, what the API shows, a replica change a reviewer can read, credential
rotation (exactly the readers roll, nothing is recreated), and a destroy that leaves nothing.

Pulumi.prod.yaml is used as committed; on top of it only what this cluster needs (tests/e2e/overrides-kwok.yaml),
the chart repository's address, and the two secrets a user sets.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import REPORT, TIMINGS, ChartRepository, Cluster, Pulumi
from tests.e2e.support import (
    OUTPUT_KEYS,
    Progress,
    Stack,
    deployments_available,
    destroy_completely,
    format_rollouts,
    kubernetes_steps,
    make_stack,
    replacing,
    resource_type,
    rolled,
    rollouts,
    services_with_endpoints,
    statefulset_ready,
    uid,
    wait_for,
)

pytestmark = pytest.mark.e2e

STACK = "prod-e2e"
RELEASE = "rocketchat"
MONGO_URL = "mongodb://rocketchat:first-password@mongo-0.db.example.net:27017/rocketchat?replicaSet=rs0"
NEW_MONGO_URL = "mongodb://rocketchat:second-password@mongo-0.db.example.net:27017/rocketchat?replicaSet=rs0"
LICENCE = "e2e-licence-one"
NEW_LICENCE = "e2e-licence-two"
# The chart's Deployments, by the workload names the `replicas` output uses.
CHART_DEPLOYMENTS = {
    "rocketchat": f"{RELEASE}-rocketchat",
    "account": f"{RELEASE}-account",
    "authorization": f"{RELEASE}-authorization",
    "presence": f"{RELEASE}-presence",
    "ddp-streamer": f"{RELEASE}-ddp-streamer",
}


@pytest.fixture(scope="module")
def stack(pulumi: Pulumi, cluster: Cluster, chart_repo: ChartRepository) -> Iterator[Stack]:
    stack = make_stack(
        pulumi,
        cluster,
        STACK,
        "Pulumi.prod.yaml",
        overrides={"rocketchat:chart": {"repo": chart_repo.url}},
        secrets={"rocketchat:mongoUrl": MONGO_URL, "rocketchat:license": LICENCE},
    )
    yield stack
    stack.retire()


def expected_deployments(replicas: dict[str, int]) -> dict[str, int]:
    return {CHART_DEPLOYMENTS[k]: n for k, n in replicas.items() if k in CHART_DEPLOYMENTS}


def env_sources(deployment: dict[str, Any]) -> dict[str, tuple[str, str] | str]:
    """Env var -> (Secret, key) where it comes from a Secret, or its literal value, for the one container."""
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    out: dict[str, tuple[str, str] | str] = {}
    for entry in container.get("env") or []:
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
        out[entry["name"]] = (ref["name"], ref["key"]) if ref else entry.get("value", "<from a field>")
    return out


def release_revisions(cluster: Cluster, ns: str) -> dict[int, str]:
    """Helm's release records (Secrets `sh.helm.release.v1.<release>.v<N>`): revision -> status."""
    records = cluster.items("secrets", ns)
    return {
        int(s["metadata"]["labels"]["version"]): s["metadata"]["labels"]["status"]
        for s in records
        if s["metadata"].get("labels", {}).get("owner") == "helm" and s["metadata"]["labels"].get("name") == RELEASE
    }


def test_preview_diff(stack: Stack, progress: Progress) -> None:
    text = stack.timed("prod: preview --diff (create)", "preview", "--diff").stdout
    # A reviewer reads the chart's values, not a blob: the stack's own numbers are in them, and no credential is.
    # (Pulumi pads keys to line up the colons of a block: `replicaCount        : 3`.)
    for key, value in (("replicaCount", "3"), ("existingMongodbSecret", '"rocketchat-mongodb"'), ("ddpStreamer", "{")):
        assert re.search(rf"\b{key}\s*: {re.escape(value)}", text), (
            f"{key}: {value} not in the preview:\n{text[-3000:]}"
        )
    assert "first-password" not in text and LICENCE not in text
    steps = stack.preview_steps()
    types = {resource_type(s) for s in kubernetes_steps(steps, "create")}
    assert {
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:core/v1:Secret",
        "kubernetes:networking.k8s.io/v1:Ingress",
        "kubernetes:policy/v1:PodDisruptionBudget",
    } <= types, sorted(types)
    assert not [s for s in steps if s["op"] not in ("create", "same")], "a first preview only creates"
    progress.done.add("preview")


def test_up(stack: Stack, progress: Progress) -> None:
    progress.need("preview")
    stack.timed("prod: up (create)", "up", "--yes", "--skip-preview")
    progress.done.add("up")


def test_outputs(stack: Stack, progress: Progress) -> None:
    progress.need("up")
    out = stack.outputs()
    assert set(out) == OUTPUT_KEYS
    assert (out["mode"], out["url"], out["namespace"]) == ("helm", "https://chat.example.com", "rocketchat")
    assert out["replicas"] == {
        "rocketchat": 3,
        "account": 2,
        "authorization": 2,
        "presence": 2,
        "ddp-streamer": 10,  # 5000 concurrent users, one pod per 500
        "nats": 3,
    }
    assert (out["ingressAddress"], out["dnsRecords"]) == ("", [])
    stack.facts["outputs"] = out
    progress.done.add("outputs")


def test_the_api_shows_the_charts_workloads_reading_the_stacks_secrets(
    cluster: Cluster, stack: Stack, progress: Progress
) -> None:
    progress.need("outputs")
    out = stack.facts["outputs"]
    ns = out["namespace"]
    t0 = time.monotonic()
    found = wait_for(
        "the chart's Deployments Available",
        lambda: deployments_available(cluster, ns, expected_deployments(out["replicas"])),
        timeout=120,
    )
    wait_for(
        "NATS ready", lambda: statefulset_ready(cluster, ns, "rocketchat-nats", out["replicas"]["nats"]), timeout=120
    )
    endpoints = wait_for("Services with endpoints", lambda: services_with_endpoints(cluster, ns), timeout=90)

    REPORT.append(f"prod (helm): Deployments and where their credentials come from, in namespace {ns}:")
    for name, deployment in sorted(found.items()):
        sources = env_sources(deployment)
        assert sources["MONGO_URL"] == ("rocketchat-mongodb", "mongo-uri"), (name, sources)
        assert sources["TRANSPORTER"] == ("rocketchat-bus", "transporter"), (name, sources)
        if name == CHART_DEPLOYMENTS["rocketchat"]:
            assert sources["ROCKETCHAT_LICENSE"] == ("rocketchat-license", "license")
            assert sources["ROOT_URL"] == "https://chat.example.com"
        else:
            assert "ROCKETCHAT_LICENSE" not in sources
        shown = {k: v for k, v in sources.items() if isinstance(v, tuple)}
        REPORT.append(f"  {name:<28} replicas {deployment['spec']['replicas']:>2}  {shown}")

    secrets = {s["metadata"]["name"]: s for s in cluster.items("secrets", ns)}
    assert base64.b64decode(secrets["rocketchat-mongodb"]["data"]["mongo-uri"]).decode() == MONGO_URL
    bus = base64.b64decode(secrets["rocketchat-bus"]["data"]["transporter"]).decode()
    assert bus.startswith("nats://rocketchat:") and bus.endswith("@rocketchat-nats.rocketchat.svc.cluster.local:4222")

    [ingress] = cluster.items("ingresses", ns)
    paths = {p["path"]: p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert {p: b["name"] for p, b in paths.items()} == {
        "/websocket": f"{RELEASE}-ddp-streamer",
        "/sockjs": f"{RELEASE}-ddp-streamer",
        "/": f"{RELEASE}-rocketchat",
    }
    for backend in paths.values():
        assert endpoints.get(backend["name"], 0) >= 1, f"{backend['name']} has no endpoints: {endpoints}"
        service = cluster.json("get", "service", backend["name"], "-n", ns)
        assert backend["port"]["name"] in {p.get("name") for p in service["spec"]["ports"]}
    assert ingress["spec"]["tls"] == [{"hosts": ["chat.example.com"], "secretName": "rocketchat-tls"}]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    REPORT.append(
        f"  Ingress {ingress['metadata']['name']}: " + ", ".join(f"{p} -> {b['name']}" for p, b in paths.items())
    )

    revisions = release_revisions(cluster, ns)
    assert revisions == {1: "deployed"}, revisions
    REPORT.append(f"  Helm release {RELEASE}: revisions {revisions}")
    TIMINGS["prod: API-side checks"] = time.monotonic() - t0
    progress.done.add("api")


def test_a_replica_change_is_legible_and_applied_in_place(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("api")
    stack.run("config", "set", "--path", "rocketchat:services.presence.replicas", "3")
    text = stack.timed("prod: preview --diff (replicas)", "preview", "--diff").stdout
    assert re.search(r"\breplicas\s*: 2 => 3", text), text[-4000:]
    steps = stack.preview_steps()
    assert replacing(steps) == []
    updated = {s["urn"].rsplit("::", 1)[1] for s in steps if s["op"] == "update"}
    assert updated == {RELEASE}, updated  # the chart's values alone (the PDB allows one pod down at any count)
    REPORT.append(f"prod: presence 2 -> 3: the preview updates {sorted(updated)}; its diff reads 'replicas: 2 => 3'")

    stack.timed("prod: up (replicas)", "up", "--yes", "--skip-preview")
    out = stack.outputs()
    assert out["replicas"]["presence"] == 3
    wait_for(
        "presence at 3",
        lambda: deployments_available(cluster, out["namespace"], expected_deployments(out["replicas"])),
        timeout=120,
    )
    stack.facts["outputs"] = out
    progress.done.add("replicas")


@pytest.mark.parametrize(
    ("key", "value", "readers"),
    [
        ("rocketchat:mongoUrl", NEW_MONGO_URL, set(CHART_DEPLOYMENTS.values())),
        ("rocketchat:license", NEW_LICENCE, {CHART_DEPLOYMENTS["rocketchat"]}),
    ],
    ids=["mongoUrl", "license"],
)
def test_rotating_a_credential_rolls_exactly_its_readers(
    cluster: Cluster, stack: Stack, progress: Progress, key: str, value: str, readers: set[str]
) -> None:
    progress.need("replicas")
    out = stack.facts["outputs"]
    ns = out["namespace"]
    secret_name = {"rocketchat:mongoUrl": "rocketchat-mongodb", "rocketchat:license": "rocketchat-license"}[key]
    before = rollouts(cluster, ns)
    secret_uid, nats_revision = (
        uid(cluster, "secret", secret_name, ns),
        statefulset_ready(cluster, ns, "rocketchat-nats", 3),
    )
    revisions_before = max(release_revisions(cluster, ns))

    stack.set_secret(key, value)
    steps = stack.preview_steps()
    assert replacing(steps) == [], "a rotation replaces nothing"
    ops = {s["urn"].rsplit("::", 1)[1]: s["op"] for s in steps if s["op"] != "same"}
    assert ops == {secret_name: "update", RELEASE: "update"}, ops
    stack.timed(f"prod: up (rotate {key.split(':')[1]})", "up", "--yes", "--skip-preview")

    after = wait_for(
        "the rollout to finish",
        lambda: deployments_available(cluster, ns, expected_deployments(out["replicas"])) and rollouts(cluster, ns),
        timeout=120,
    )
    assert rolled(before, after) == readers
    assert uid(cluster, "secret", secret_name, ns) == secret_uid, f"{secret_name} was deleted and created again"
    data = cluster.json("get", "secret", secret_name, "-n", ns)["data"]
    assert [base64.b64decode(v).decode() for v in data.values()] == [value]
    nats_after = statefulset_ready(cluster, ns, "rocketchat-nats", 3)
    assert nats_after["status"]["currentRevision"] == nats_revision["status"]["currentRevision"], "NATS rolled"
    assert max(release_revisions(cluster, ns)) == revisions_before + 1
    REPORT.append(f"prod (helm): rotating {key} (Secret {secret_name} kept UID {secret_uid[:8]}):")
    REPORT.append(format_rollouts(before, after))
    progress.done.add(f"rotate {key}")


def test_an_upgrade_moves_every_image_in_one_update(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("rotate rocketchat:license")
    ns = stack.facts["outputs"]["namespace"]
    before = rollouts(cluster, ns)
    stack.run("config", "set", "rocketchat:version", "8.7.0")
    assert replacing(stack.preview_steps()) == []
    stack.timed("prod: up (8.6.1 -> 8.7.0)", "up", "--yes", "--skip-preview")
    replicas = stack.outputs()["replicas"]
    after = wait_for(
        "the upgrade rolled out",
        lambda: deployments_available(cluster, ns, expected_deployments(replicas)) and rollouts(cluster, ns),
        timeout=120,
    )
    assert rolled(before, after) == set(CHART_DEPLOYMENTS.values())
    tags = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[1]
        for d in cluster.items("deployments", ns)
    }
    assert set(tags.values()) == {"8.7.0"}, tags
    # The client address count the program patched into the chart's ddp-streamer survives Helm's upgrade.
    streamer = cluster.json("get", "deployment", CHART_DEPLOYMENTS["ddp-streamer"], "-n", ns)
    (container,) = streamer["spec"]["template"]["spec"]["containers"]
    assert {"name": "HTTP_FORWARDED_COUNT", "value": "1"} in container["env"], container["env"]
    assert stack.preview_steps() and not [s for s in stack.preview_steps() if s["op"] != "same"], "not settled"
    REPORT.append("prod (helm): 8.6.1 -> 8.7.0 in one update, every chart Deployment rolled to 8.7.0:")
    REPORT.append(format_rollouts(before, after))
    progress.done.add("upgrade")


def test_back_to_the_monolith_and_microservices_again(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    """The seed's conversion path in helm mode, both ways, on the same release."""
    progress.need("upgrade")
    ns = stack.facts["outputs"]["namespace"]
    before = rollouts(cluster, ns)
    stack.run("config", "set", "rocketchat:microservices", "false")
    steps = stack.preview_steps()
    assert replacing([s for s in steps if s["op"] != "delete"]) == []
    stack.timed("prod: up (monolith)", "up", "--yes", "--skip-preview")
    monolith = {CHART_DEPLOYMENTS["rocketchat"]: 3}
    alone = wait_for(
        "the monolith alone", lambda: deployments_available(cluster, ns, monolith) and rollouts(cluster, ns)
    )
    assert alone[CHART_DEPLOYMENTS["rocketchat"]].uid == before[CHART_DEPLOYMENTS["rocketchat"]].uid
    stack.run("config", "set", "rocketchat:microservices", "true")
    stack.timed("prod: up (microservices again)", "up", "--yes", "--skip-preview")
    replicas = stack.outputs()["replicas"]
    again = wait_for(
        "microservices again",
        lambda: deployments_available(cluster, ns, expected_deployments(replicas)) and rollouts(cluster, ns),
        timeout=120,
    )
    assert again[CHART_DEPLOYMENTS["rocketchat"]].uid == before[CHART_DEPLOYMENTS["rocketchat"]].uid
    sets = " -> ".join(r[CHART_DEPLOYMENTS["rocketchat"]].replica_set for r in (before, alone, again))
    REPORT.append(
        "prod (helm): microservices -> monolith -> microservices on the same release: the monolith Deployment kept "
        f"its UID ({sets}); Helm revisions {sorted(release_revisions(cluster, ns))}"
    )
    progress.done.add("conversion")


def test_destroy_leaves_nothing(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("up")
    ns = stack.config["rocketchat:namespace"]
    destroy_completely(stack, cluster, ns, "prod", step="prod: destroy")
    assert release_revisions(cluster, ns) == {}
    REPORT.append(
        f"prod: after destroy, namespace {ns} is gone with the Helm release records; no cluster-scoped object left"
    )
