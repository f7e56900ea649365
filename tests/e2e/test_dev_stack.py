"""The dev stack through the real engine: preview, up, the objects in the API server, the outputs contract, refresh
following the Ingress status, a config change with its diff, a no-op up, and a destroy that leaves nothing behind.

The steps run in order and share one stack; a step whose predecessor failed is skipped (it would only repeat the
failure). Timings are printed at the end of the run (section "e2e timings").
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import TIMINGS, Cluster, Pulumi
from tests.e2e.support import (
    FAKE_LB_IP,
    OUTPUT_KEYS,
    Progress,
    Stack,
    condition,
    destroy_completely,
    kubernetes_steps,
    make_stack,
    replacing,
    resource_type,
    services_with_endpoints,
    wait_for,
)

pytestmark = pytest.mark.e2e

NEW_HOST = "chat2.e2e.example.com"
MONOLITH = "rocketchat"  # the monolith's key in the `replicas` output (workloads are keyed by name)


@pytest.fixture(scope="module")
def stack(pulumi: Pulumi, cluster: Cluster) -> Iterator[Stack]:
    """Stack `e2e`: the dev stack's config plus the overrides this cluster needs; destroyed at the end whatever
    happened (the last test checks that it was destroyed cleanly)."""
    stack = make_stack(pulumi, cluster, pulumi.stack, "Pulumi.dev.yaml")
    yield stack
    stack.retire()


# --- the steps ---------------------------------------------------------------------------------------------------
def test_preview(stack: Stack, progress: Progress) -> None:
    proc = stack.timed("dev: preview (create)", "preview", "--json")
    steps = json.loads(proc.stdout).get("steps") or []
    types = {resource_type(s) for s in kubernetes_steps(steps, "create")}
    for expected in (
        "kubernetes:core/v1:Namespace",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:Secret",
        "kubernetes:networking.k8s.io/v1:Ingress",
    ):
        assert expected in types, f"preview creates no {expected}: {sorted(types)}"
    assert not [s for s in steps if s["op"] not in ("create", "same")], "a first preview only creates"
    assert len([s for s in steps if s["op"] == "create"]) >= 25, "the whole dev stack is created"
    progress.done.add("preview")


def test_up(stack: Stack, progress: Progress) -> None:
    progress.need("preview")
    proc = stack.timed("dev: up (create)", "up", "--yes", "--skip-preview")
    assert "error" not in proc.stderr.lower(), proc.stderr
    progress.done.add("up")


def test_outputs_contract(stack: Stack, progress: Progress) -> None:
    progress.need("up")
    out = stack.outputs()
    assert set(out) == OUTPUT_KEYS, f"outputs {sorted(out)} differ from the contract {sorted(OUTPUT_KEYS)}"
    config = stack.config
    assert out["host"] == config["rocketchat:host"]
    assert out["url"] in (f"http://{out['host']}", f"https://{out['host']}")
    assert out["namespace"] == config["rocketchat:namespace"]
    assert out["mode"] == config["rocketchat:mode"]
    assert out["version"] == config["rocketchat:version"]
    # The contract: `ingressAddress` is "" until the controller publishes an address (the engine drops nulls).
    assert out["ingressAddress"] == "", "no controller has published an address yet"
    assert out["dnsRecords"] == []
    assert isinstance(out["replicas"], dict) and out["replicas"]
    assert all(isinstance(n, int) and n >= 1 for n in out["replicas"].values()), out["replicas"]
    stack.facts["outputs"] = out
    progress.done.add("outputs")


def _check_workloads(cluster: Cluster, ns: str, replicas: dict[str, int]) -> dict[str, Any]:
    deployments = cluster.items("deployments", ns)
    statefulsets = cluster.items("statefulsets", ns)
    assert deployments, f"no Deployment in {ns}"
    for d in deployments:
        name = d["metadata"]["name"]
        want = d["spec"].get("replicas", 1)
        assert condition(d, "Available") == "True", f"Deployment {name} is not Available: {d.get('status')}"
        assert d["status"].get("readyReplicas", 0) == want, f"Deployment {name}: {d['status']}"
        assert d["status"].get("updatedReplicas", 0) == want, f"Deployment {name}: {d['status']}"
    workload_counts = sorted(v for k, v in replicas.items() if k not in ("nats", "mongodb"))
    assert sorted(d["spec"]["replicas"] for d in deployments) == workload_counts, (
        f"Deployments {[(d['metadata']['name'], d['spec']['replicas']) for d in deployments]} vs outputs {replicas}"
    )
    by_component = {s["metadata"].get("labels", {}).get("app.kubernetes.io/name"): s for s in statefulsets}
    for name in ("nats", "mongodb"):
        if name in replicas:
            sts = by_component.get(name)
            assert sts is not None, f"no StatefulSet labelled app.kubernetes.io/name={name}: {list(by_component)}"
            assert sts["spec"]["replicas"] == replicas[name]
            assert sts["status"].get("readyReplicas", 0) == replicas[name], f"{name} StatefulSet: {sts['status']}"
    return {"deployments": deployments, "statefulsets": statefulsets}


def test_objects_in_the_api(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("outputs")
    out = stack.facts["outputs"]
    ns = out["namespace"]
    t0 = time.monotonic()
    assert cluster.json("get", "namespace", ns)["status"]["phase"] == "Active"
    wait_for("workloads ready", lambda: _check_workloads(cluster, ns, out["replicas"]), timeout=90)
    wait_for("services with endpoints", lambda: services_with_endpoints(cluster, ns), timeout=90)

    ingresses = cluster.items("ingresses", ns)
    assert len(ingresses) == 1, [i["metadata"]["name"] for i in ingresses]
    ingress = ingresses[0]
    rules = ingress["spec"]["rules"]
    assert [r["host"] for r in rules] == [out["host"]]
    backends = {p["backend"]["service"]["name"] for r in rules for p in r["http"]["paths"]}
    service_names = {s["metadata"]["name"] for s in cluster.items("services", ns)}
    assert backends <= service_names, f"Ingress backends {backends} are not Services {service_names}"
    if (stack.config.get("rocketchat:ingress") or {}).get("skipAwait"):
        assert ingress["metadata"]["annotations"].get("pulumi.com/skipAwait") == "true"

    secrets = {s["metadata"]["name"]: s for s in cluster.items("secrets", ns)}
    for name, key in (("rocketchat-mongodb", "mongo-uri"), ("rocketchat-bus", "transporter")):
        assert name in secrets, f"Secret {name} missing: {sorted(secrets)}"
        value = base64.b64decode(secrets[name]["data"][key]).decode()
        assert "://" in value, f"{name}/{key} is not a URL"
    bus = base64.b64decode(secrets["rocketchat-bus"]["data"]["transporter"]).decode()
    assert bus.startswith("nats://") and "@" in bus, "the bus URL carries the generated credentials"
    TIMINGS["dev: API-side checks"] = time.monotonic() - t0
    stack.facts["ingress"] = ingress["metadata"]["name"]
    progress.done.add("api")


def test_refresh_follows_the_ingress_status(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("api")
    ns, name = stack.facts["outputs"]["namespace"], stack.facts["ingress"]
    patch = json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": FAKE_LB_IP}]}}})
    cluster.run("patch", "ingress", name, "-n", ns, "--subresource=status", "--type=merge", "-p", patch)
    stack.timed("dev: refresh", "refresh", "--yes", "--skip-preview")
    after_refresh = stack.outputs()
    # Outputs are the program's: a refresh updates the Ingress state, the next run of the program reads it.
    stack.timed("dev: up (outputs after refresh)", "up", "--yes", "--skip-preview")
    out = stack.outputs()
    assert out["ingressAddress"] == FAKE_LB_IP, (after_refresh, out)
    assert out["dnsRecords"] == [{"name": out["host"], "type": "A", "value": FAKE_LB_IP, "ttl": 300}]
    stack.facts["outputs"] = out
    progress.done.add("refresh")


def test_second_up_changes_nothing(stack: Stack, progress: Progress) -> None:
    progress.need("refresh")
    preview = stack.timed("dev: preview (no change)", "preview", "--json")
    changed = [(s["op"], s["urn"]) for s in json.loads(preview.stdout).get("steps") or [] if s["op"] != "same"]
    assert changed == [], changed
    proc = stack.timed("dev: up (no change)", "up", "--yes", "--expect-no-changes")
    assert "unchanged" in proc.stdout, proc.stdout[-2000:]
    progress.done.add("noop")


def test_config_change_diff_and_apply(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("noop")
    before = stack.facts["outputs"]
    monolith = before["replicas"][MONOLITH]
    stack.run("config", "set", "--path", "rocketchat:monolith.replicas", str(monolith + 1))
    stack.run("config", "set", "rocketchat:host", NEW_HOST)

    text = stack.timed("dev: preview --diff (change)", "preview", "--diff").stdout
    assert f"replicas: {monolith} => {monolith + 1}" in text, text[-4000:]
    assert NEW_HOST in text and before["host"] in text, text[-4000:]
    steps = stack.preview_steps()
    updates = {resource_type(s): s for s in kubernetes_steps(steps, "update")}
    assert "kubernetes:apps/v1:Deployment" in updates, sorted(updates)
    assert "kubernetes:networking.k8s.io/v1:Ingress" in updates, sorted(updates)
    assert replacing(steps) == [], "a replicas/host change must update in place, not replace"

    stack.timed("dev: up (change)", "up", "--yes", "--skip-preview")
    out = stack.outputs()
    assert out["host"] == NEW_HOST and out["url"].endswith(NEW_HOST)
    assert out["replicas"][MONOLITH] == monolith + 1
    ns = out["namespace"]
    wait_for("workloads ready after the change", lambda: _check_workloads(cluster, ns, out["replicas"]), timeout=90)
    ingress = cluster.json("get", "ingress", stack.facts["ingress"], "-n", ns)
    assert [r["host"] for r in ingress["spec"]["rules"]] == [NEW_HOST]
    # the status the controller published survives the update, and the DNS record follows the new host
    assert out["ingressAddress"] == FAKE_LB_IP
    assert out["dnsRecords"] == [{"name": NEW_HOST, "type": "A", "value": FAKE_LB_IP, "ttl": 300}]
    stack.timed("dev: up (no change after the change)", "up", "--yes", "--expect-no-changes")
    stack.facts["outputs"] = out
    progress.done.add("change")


def test_destroy_leaves_nothing(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("up")
    destroy_completely(stack, cluster, stack.config["rocketchat:namespace"], "dev", step="dev: destroy")
