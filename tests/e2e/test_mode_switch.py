"""Moving a live stack between raw and helm mode on the real engine, with production's config.

Under the same names a switch cannot be one update: the chart's objects and the raw ones share names, Helm refuses to
take over objects it did not make, and Pulumi deletes what a program no longer registers only at the end of an update.
The program refuses such a switch before anything changes (checked here: the CLI's exit code and message, and the
API unchanged), and the ways its message names work, each with the Ingress keeping a ready backend throughout:
  raw -> helm in one update, under another release name;
  helm -> raw in one update when the release is named apart from the instance, else two: move the release, switch.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import REPORT, ChartRepository, Cluster, Pulumi
from tests.e2e.support import (
    IngressWatch,
    Progress,
    Stack,
    deployments_available,
    destroy_completely,
    make_stack,
    replacing,
    rollouts,
    statefulset_ready,
    uid,
    wait_for,
)

pytestmark = pytest.mark.e2e

STACK = "switch-e2e"
NAMESPACE = "rocketchat-switch"
MONGO_URL = "mongodb://rocketchat:switch-password@mongo-0.db.example.net:27017/rocketchat?replicaSet=rs0"
WORKLOADS = ("rocketchat", "account", "authorization", "presence", "ddp-streamer")
REPLICAS = {"rocketchat": 3, "account": 2, "authorization": 2, "presence": 2, "ddp-streamer": 10}
# What the stack owns whatever its mode: it must be the very same objects after every switch.
OWN = (("statefulset", "rocketchat-nats"), ("secret", "rocketchat-bus"), ("secret", "rocketchat-mongodb"),
       ("secret", "rocketchat-nats-config"), ("networkpolicy", "rocketchat-web"), ("networkpolicy", "rocketchat-nats"),
       ("ingress", "rocketchat"))  # fmt: skip


@pytest.fixture(scope="module")
def stack(pulumi: Pulumi, cluster: Cluster, chart_repo: ChartRepository) -> Iterator[Stack]:
    stack = make_stack(
        pulumi,
        cluster,
        STACK,
        "Pulumi.prod.yaml",
        overrides={
            "rocketchat:mode": "raw",
            "rocketchat:namespace": NAMESPACE,
            "rocketchat:chart": {"repo": chart_repo.url},
        },
        secrets={"rocketchat:mongoUrl": MONGO_URL, "rocketchat:license": "e2e-licence"},
    )
    yield stack
    stack.retire()


def workloads_of(prefix: str) -> dict[str, int]:
    return {f"{prefix}-{w}": n for w, n in REPLICAS.items()}


def own_objects(cluster: Cluster) -> dict[str, str]:
    return {f"{kind}/{name}": uid(cluster, kind, name, NAMESPACE) for kind, name in OWN}


def refused(cluster: Cluster, stack: Stack, says: str) -> str:
    """`pulumi up` of the config in hand fails with the program's message, and nothing in the cluster changes."""
    before = rollouts(cluster, NAMESPACE), own_objects(cluster)
    proc = stack.run("up", "--yes", "--skip-preview", check=False)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0, said[-2000:]
    assert says in said, said[-3000:]
    assert (rollouts(cluster, NAMESPACE), own_objects(cluster)) == before, "a refused update changed the cluster"
    return next(line.strip() for line in said.splitlines() if says in line)


def switch(cluster: Cluster, stack: Stack, step: str, new_workloads: dict[str, int]) -> list[str]:
    """One `pulumi up` while the Ingress is watched; returns what the preview deleted (Kind::name)."""
    own = own_objects(cluster)
    steps = stack.preview_steps()
    assert replacing([s for s in steps if s["op"] != "delete"]) == [], f"{step} replaces something"
    deleted = sorted(
        f"{s['urn'].split('::')[2].rsplit(':', 1)[-1]}::{s['urn'].rsplit('::', 1)[1]}"
        for s in steps
        if s["op"] == "delete"
    )
    with IngressWatch(cluster, NAMESPACE, "rocketchat") as watch:
        stack.timed(f"switch: up ({step})", "up", "--yes", "--skip-preview")
    assert watch.samples, "the Ingress was watched"
    assert watch.gaps() == [], f"{step}: the Ingress lost its backend: {watch.gaps()[:5]}"
    wait_for(f"{step}: Deployments", lambda: deployments_available(cluster, NAMESPACE, new_workloads), timeout=120)
    statefulset_ready(cluster, NAMESPACE, "rocketchat-nats", 3)
    assert own_objects(cluster) == own, f"{step}: the stack's own objects were recreated"
    REPORT.append(
        f"switch: {step}: one update, {len(watch.samples)} Ingress samples over {watch.samples[-1][0]:.0f} s all with "
        f"ready backends; NATS, the Secrets, policies and Ingress kept their UIDs; deleted {deleted}"
    )
    return deleted


def test_raw(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    stack.timed("switch: up (raw)", "up", "--yes", "--skip-preview")
    wait_for("raw", lambda: deployments_available(cluster, NAMESPACE, workloads_of("rocketchat")), timeout=120)
    progress.done.add("raw")


def test_raw_to_helm_under_the_same_names_is_refused(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("raw")
    stack.run("config", "set", "rocketchat:mode", "helm")
    message = refused(
        cluster, stack, "rocketchat:chart.releaseName: the chart names its objects 'rocketchat-<workload>'"
    )
    REPORT.append(f"switch: raw -> helm under the same names refused, nothing changed: {message[:160]}...")
    progress.done.add("refused raw->helm")


def test_raw_to_helm_under_another_release_in_one_update(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("refused raw->helm")
    stack.run("config", "set", "--path", "rocketchat:chart.releaseName", "rocketchat-chart")
    stack.run("config", "set", "rocketchat:instance", "rocketchat")
    deleted = switch(cluster, stack, "raw -> helm", workloads_of("rocketchat-chart"))
    assert {f"Deployment::rocketchat-{w}" for w in WORKLOADS} <= set(deleted)
    progress.done.add("helm")


def test_helm_back_to_raw_in_one_update(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    """The release is named apart from the instance: raw objects and the chart's do not collide."""
    progress.need("helm")
    stack.run("config", "set", "rocketchat:mode", "raw")
    deleted = switch(cluster, stack, "helm -> raw", workloads_of("rocketchat"))
    assert "Release::rocketchat-chart" in deleted
    progress.done.add("raw again")


def test_helm_to_raw_under_the_same_names_takes_two_updates(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    """Production as committed names its release like its instance: the switch is refused, and the two updates the
    message names work (move the release, then switch)."""
    progress.need("raw again")
    stack.run("config", "set", "rocketchat:mode", "helm")
    stack.run("config", "set", "--path", "rocketchat:chart.releaseName", "rocketchat-chart")
    switch(cluster, stack, "raw -> helm again", workloads_of("rocketchat-chart"))
    stack.run("config", "set", "--path", "rocketchat:chart.releaseName", "rocketchat")
    switch(cluster, stack, "helm: the release renamed to the instance's name", workloads_of("rocketchat"))

    stack.run("config", "set", "rocketchat:mode", "raw")
    message = refused(cluster, stack, "rocketchat:mode: this stack runs the chart's release 'rocketchat'")
    REPORT.append(f"switch: helm -> raw under the same names refused, nothing changed: {message[:160]}...")
    stack.run("config", "set", "rocketchat:mode", "helm")
    stack.run("config", "set", "--path", "rocketchat:chart.releaseName", "rocketchat-chart")
    switch(cluster, stack, "helm -> raw, first update: the release moved", workloads_of("rocketchat-chart"))
    stack.run("config", "set", "rocketchat:mode", "raw")
    switch(cluster, stack, "helm -> raw, second update: the switch", workloads_of("rocketchat"))
    progress.done.add("two updates")


def test_destroy_leaves_nothing(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("raw")
    destroy_completely(stack, cluster, NAMESPACE, "switch", step="switch: destroy")
