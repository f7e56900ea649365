"""Ownership and data safety on the real engine (issue: a stack never takes over, changes or deletes what is not its
own, and never drops its database's volumes).

- Stack A (the dev stack file) in namespace `own-shared`; stack B, a copy of it with only the host changed: B's `up`
  is refused before anything happens, every object of A keeps its UID and resourceVersion, and B's destroy leaves A
  whole.
- Stack C in A's namespace with an instance of its own and `createNamespace: false`: deployed beside A without a
  shared name; the NetworkPolicies the API server holds keep each instance's pods apart; C and A destroyed apart.
- A dev stack with its in-cluster MongoDB asked to move namespace: refused with its claims kept; with
  `mongodb.allowDataLoss` the move happens and the old namespace goes, with its claims, as the opt-in says.

The local cluster has no network plugin, so the flows are judged from the NetworkPolicies as the API server holds
them and the live pods' labels (NetworkPolicy's own rules: a pod selected by a policy takes only what a rule admits).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import REPORT, Cluster, Pulumi
from tests.e2e.support import Progress, Stack, destroy_completely, make_stack, wait_for

pytestmark = pytest.mark.e2e

SHARED = "own-shared"
KINDS = "deployments,statefulsets,services,secrets,ingresses,networkpolicies,poddisruptionbudgets,configmaps"


def snapshot(cluster: Cluster, ns: str, instance: str | None = None) -> dict[str, tuple[str, str]]:
    """kind/name -> (UID, resourceVersion) of the namespace itself and of every object in it (of one instance)."""
    found = {}
    namespace = cluster.json("get", "namespace", ns)["metadata"]
    found[f"Namespace/{ns}"] = (namespace["uid"], namespace["resourceVersion"])
    for o in cluster.json("get", KINDS, "-n", ns)["items"]:
        metadata = o["metadata"]
        labels = metadata.get("labels") or {}
        if instance and labels.get("app.kubernetes.io/instance") != instance:
            continue
        if metadata["name"] == "kube-root-ca.crt":
            continue
        found[f"{o['kind']}/{metadata['name']}"] = (metadata["uid"], metadata["resourceVersion"])
    return found


def kubernetes_resources(stack: Stack) -> list[str]:
    exported = stack.run_json("stack", "export")
    return [r["urn"] for r in exported["deployment"].get("resources") or [] if r["type"].startswith("kubernetes:")]


# --- NetworkPolicy's rules, applied to the policies and pods the API server holds ------------------------------------
def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], expression.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def admitted(policies: list[dict], source: dict[str, str], target: dict[str, str], port: int) -> bool:
    """Whether a pod labelled `source` reaches port `port` of a pod labelled `target`, both in the policies' namespace:
    open when no policy selects the target for ingress, else when a rule of one that does admits the source."""
    selecting = [p for p in policies if _matches(p["spec"].get("podSelector") or {}, target)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = [p.get("port") for p in rule.get("ports") or []]
            if ports and port not in ports:
                continue
            peers = rule.get("from") or []
            if not peers or any(
                "podSelector" in peer and "namespaceSelector" not in peer and _matches(peer["podSelector"], source)
                for peer in peers
            ):
                return True
    return False


def pod_labels(cluster: Cluster, ns: str, selector: str) -> dict[str, str]:
    pods = cluster.json("get", "pods", "-n", ns, "-l", selector)["items"]
    assert pods, f"no pod in {ns} matches {selector}"
    return pods[0]["metadata"]["labels"]


class Stacks(dict):
    """The scenario's stacks by short name, each made from the dev stack file; retired at the end, last first."""

    def __init__(self, pulumi: Pulumi, cluster: Cluster) -> None:
        super().__init__()
        self.pulumi, self.cluster = pulumi, cluster

    def new(self, name: str, overrides: dict[str, Any]) -> Stack:
        self[name] = make_stack(self.pulumi, self.cluster, f"own-{name}", "Pulumi.dev.yaml", overrides=overrides)
        return self[name]


@pytest.fixture(scope="module")
def stacks(pulumi: Pulumi, cluster: Cluster) -> Any:
    made = Stacks(pulumi, cluster)
    yield made
    for each in reversed(list(made.values())):
        each.retire()


def test_a_copied_stack_is_refused_and_its_destroy_leaves_the_first_whole(
    stacks: Any, cluster: Cluster, progress: Progress
) -> None:
    a = stacks.new("a", {"rocketchat:namespace": SHARED, "rocketchat:host": "a.own.example"})
    a.timed("ownership: up (A)", "up", "--yes", "--skip-preview")
    before = snapshot(cluster, SHARED)
    assert len(before) > 20, before
    owners = {
        o["metadata"].get("annotations", {}).get("rocketchat.chat/owned-by")
        for o in cluster.items("secrets", SHARED)
        if o["metadata"]["name"] != "kube-root-ca.crt" and o["type"] == "Opaque"
    }
    assert owners == {"organization/rocketchat/own-a"}, owners

    b = stacks.new("b", {"rocketchat:namespace": SHARED, "rocketchat:host": "b.own.example"})
    preview = b.run("preview", check=False)
    assert preview.returncode != 0
    refused = b.timed("ownership: up (B, refused)", "up", "--yes", "--skip-preview", check=False)
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "this update would take over" in output, output[-3000:]
    assert f"Namespace {SHARED} already exists and belongs to stack organization/rocketchat/own-a" in output
    assert kubernetes_resources(b) == []
    assert snapshot(cluster, SHARED) == before, "B's refused update changed an object of A"

    b.timed("ownership: destroy (B)", "destroy", "--yes", "--skip-preview")
    b.destroyed = True
    assert snapshot(cluster, SHARED) == before, "B's destroy changed or deleted an object of A"
    a.run("up", "--yes", "--expect-no-changes")
    REPORT.append(
        f"ownership: B (a copy of A's stack file, host changed) refused in preview and up: "
        f"{sum('already exists and belongs to' in line for line in output.splitlines())} objects named; A's "
        f"{len(before)} objects kept UID and resourceVersion through B's up and destroy"
    )
    progress.done.add("a")


def test_a_second_instance_shares_the_namespace_and_each_is_destroyed_alone(
    stacks: Any, cluster: Cluster, progress: Progress
) -> None:
    progress.need("a")
    before = snapshot(cluster, SHARED)
    c = stacks.new(
        "c",
        {
            "rocketchat:namespace": SHARED,
            "rocketchat:createNamespace": False,
            "rocketchat:instance": "team-c",
            "rocketchat:host": "c.own.example",
        },
    )
    c.timed("ownership: up (C beside A)", "up", "--yes", "--skip-preview")
    after = snapshot(cluster, SHARED)
    mine = {k: v for k, v in after.items() if k not in before}
    assert all("team-c" in k for k in mine), mine
    assert {k: after[k] for k in before} == before, "C changed an object of A"

    policies = cluster.items("networkpolicies", SHARED)
    wait_for(
        "both NATS pods",
        lambda: pod_labels(cluster, SHARED, "app.kubernetes.io/instance=team-c,app.kubernetes.io/name=nats"),
        timeout=60,
    )
    rc = {
        i: pod_labels(cluster, SHARED, f"rocketchat.chat/instance={i},app.kubernetes.io/component=rocketchat")
        for i in ("rocketchat", "team-c")
    }
    nats = {i: pod_labels(cluster, SHARED, f"app.kubernetes.io/instance={i},app.kubernetes.io/name=nats") for i in rc}
    mongo = {
        i: pod_labels(cluster, SHARED, f"app.kubernetes.io/instance={i},app.kubernetes.io/name=mongodb") for i in rc
    }
    flows = {
        (src, dst, what): admitted(policies, rc[src], pods[dst], port)
        for src in rc
        for dst in rc
        for what, pods, port in (("nats", nats, 4222), ("mongodb", mongo, 27017))
    }
    assert flows == {(s, d, w): s == d for (s, d, w) in flows}, flows

    # C made no namespace: its objects go, its database's claim stays (Retain: docs/ownership.md), A stays.
    c.timed("ownership: destroy (C)", "destroy", "--yes", "--skip-preview")
    c.destroyed = True
    assert kubernetes_resources(c) == []
    left = [k for k in snapshot(cluster, SHARED) if "team-c" in k]
    assert left == [], left
    claims_left = [o["metadata"]["name"] for o in cluster.items("persistentvolumeclaims", SHARED)]
    assert "data-team-c-mongodb-0" in claims_left, claims_left
    cluster.run("delete", "persistentvolumeclaim", "data-team-c-mongodb-0", "-n", SHARED, "--wait=false")
    assert snapshot(cluster, SHARED) == before, "C's destroy changed or deleted an object of A"
    REPORT.append(
        f"ownership: C (instance team-c) beside A in {SHARED}: {len(mine)} objects of its own, none shared; flows "
        f"(source instance -> target instance): {sorted(k for k, v in flows.items() if v)} admitted, the rest denied; "
        "C destroyed with A untouched"
    )
    destroy_completely(stacks["a"], cluster, SHARED, "ownership", step="ownership: destroy (A)")


def claims(cluster: Cluster, ns: str) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["uid"] for o in cluster.items("persistentvolumeclaims", ns)}


def test_moving_a_stack_with_its_database_is_refused_and_the_opt_in_does_what_it_says(
    stacks: Any, cluster: Cluster
) -> None:
    d = stacks.new("data", {"rocketchat:namespace": "own-data", "rocketchat:host": "data.own.example"})
    d.timed("ownership: up (in-cluster database)", "up", "--yes", "--skip-preview")
    kept = wait_for("the database's claim", lambda: claims(cluster, "own-data"), timeout=60)
    assert list(kept) == ["data-rocketchat-mongodb-0"], kept

    d.run("config", "set", "rocketchat:namespace", "own-data-moved")
    refused = d.timed("ownership: up (namespace moved, refused)", "up", "--yes", "--skip-preview", check=False)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "rocketchat:namespace: the in-cluster MongoDB's data" in output, output[-3000:]
    assert "claims data-rocketchat-mongodb-0 in namespace own-data" in output
    assert claims(cluster, "own-data") == kept, "the refused update touched the database's claims"
    assert cluster.run("get", "namespace", "own-data-moved", "--ignore-not-found", "-o", "name").stdout == ""

    d.run("config", "set", "--path", "rocketchat:mongodb.allowDataLoss", "true")
    moved = d.timed("ownership: up (namespace moved, allowDataLoss)", "up", "--yes", "--skip-preview")
    assert "allowDataLoss is true" in moved.stdout + moved.stderr

    def old_namespace_gone() -> bool:
        proc = cluster.run("get", "namespace", "own-data", "--ignore-not-found", "-o", "name", check=False)
        return proc.stdout.strip() == ""

    wait_for("the old namespace and its claims to go", old_namespace_gone, timeout=120)
    new_claims = wait_for("the new database's claim", lambda: claims(cluster, "own-data-moved"), timeout=60)
    assert set(new_claims.values()).isdisjoint(kept.values())
    REPORT.append(
        f"ownership: moving own-data with its in-cluster database refused, claim {list(kept)} kept (same UID); with "
        "mongodb.allowDataLoss the stack moved to own-data-moved and the old namespace went with its claim"
    )
    destroy_completely(d, cluster, "own-data-moved", "ownership", step="ownership: destroy (moved)")
