"""Autoscaling on the real engine: the count a HorizontalPodAutoscaler sets survives `pulumi up`.

A raw stack at 1000 concurrent users (ddp-streamer at 2 pods) turns on `services.ddpStreamer.autoscaling`; the
Deployment is then scaled through its scale subresource, as the autoscaler scales it, and three kinds of `pulumi up`
follow: one with nothing to do, one that rolls ddp-streamer's pods (a new CPU request), one with `--refresh`. The
count stays where the "autoscaler" put it every time. Then the bounds change (the autoscaler alone is updated) and
autoscaling goes off (the autoscaler is deleted and `pulumi up` owns the count again).

The local cluster has no metrics API (kwok's nodes run no kubelet to read CPU from), so its controller manager's
autoscaler cannot compute a CPU-based count: its status conditions, as the API server reports them, are recorded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import REPORT, Cluster, Pulumi
from tests.e2e.support import (
    Progress,
    Stack,
    deployments_available,
    destroy_completely,
    make_stack,
    replacing,
    resource_type,
    rolled,
    rollouts,
    uid,
    wait_for,
)

pytestmark = pytest.mark.e2e

STACK = "autoscaling-e2e"
NAMESPACE = "rocketchat-hpa"
STREAMER = "rocketchat-ddp-streamer"
SCALED_BY_THE_AUTOSCALER = 5


@pytest.fixture(scope="module")
def stack(pulumi: Pulumi, cluster: Cluster) -> Iterator[Stack]:
    """The dev stack (raw, in-cluster MongoDB) at 1000 concurrent users, in a namespace of its own."""
    stack = make_stack(
        pulumi,
        cluster,
        STACK,
        "Pulumi.dev.yaml",
        overrides={"rocketchat:namespace": NAMESPACE, "rocketchat:concurrentUsers": 1000},
        secrets={"rocketchat:license": "e2e-licence"},
    )
    yield stack
    stack.retire()


def replicas(cluster: Cluster) -> int:
    return cluster.json("get", "deployment", STREAMER, "-n", NAMESPACE)["spec"]["replicas"]


def streamer_available(cluster: Cluster, count: int) -> dict:
    """Every Deployment Available at its count, ddp-streamer's being `count`."""

    def check() -> dict:
        counts = {d["metadata"]["name"]: d["spec"]["replicas"] for d in cluster.items("deployments", NAMESPACE)}
        assert counts.get(STREAMER) == count, counts
        return deployments_available(cluster, NAMESPACE, counts)

    return wait_for(f"{STREAMER} Available at {count}", check, timeout=120)


def steps_of(stack: Stack) -> dict[str, str]:
    """`Kind::name` -> op of every preview step that does something."""
    return {
        f"{resource_type(s).rsplit(':', 1)[-1]}::{s['urn'].rsplit('::', 1)[1]}": s["op"]
        for s in stack.preview_steps()
        if s["op"] != "same"
    }


def test_a_stack_without_autoscaling(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    stack.timed("autoscaling: up (no autoscaling)", "up", "--yes", "--skip-preview")
    streamer_available(cluster, 2)
    assert stack.outputs()["replicas"]["ddp-streamer"] == 2
    stack.facts["streamer"] = uid(cluster, "deployment", STREAMER, NAMESPACE)
    progress.done.add("up")


def test_turning_autoscaling_on_adds_the_autoscaler_and_leaves_the_deployment_alone(
    cluster: Cluster, stack: Stack, progress: Progress
) -> None:
    progress.need("up")
    before = rollouts(cluster, NAMESPACE)
    stack.run("config", "set", "--path", "rocketchat:services.ddpStreamer.autoscaling.maxReplicas", "6")
    steps = steps_of(stack)
    # The Deployment's update is its annotation (who sets the count): the pods do not roll, the count stays.
    assert steps == {f"HorizontalPodAutoscaler::{STREAMER}": "create", f"Deployment::{STREAMER}": "update"}, steps
    stack.timed("autoscaling: up (autoscaling on)", "up", "--yes", "--skip-preview")
    deployment = cluster.json("get", "deployment", STREAMER, "-n", NAMESPACE)
    assert deployment["metadata"]["annotations"]["rocketchat.chat/autoscaled-by"] == STREAMER
    hpa = cluster.json("get", "hpa", STREAMER, "-n", NAMESPACE)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": STREAMER}
    assert replicas(cluster) == 2 and rolled(before, rollouts(cluster, NAMESPACE)) == set()
    assert stack.outputs()["replicas"]["ddp-streamer"] == "2..6"

    def conditions() -> dict[str, tuple[str, str]]:
        found = cluster.json("get", "hpa", STREAMER, "-n", NAMESPACE).get("status", {}).get("conditions") or []
        return {c["type"]: (c["status"], c.get("reason", "")) for c in found}

    seen = wait_for(
        "the controller manager's autoscaler reports on it",
        lambda: found if len(found := conditions()) >= 2 else None,
        timeout=90,
    )
    assert seen["AbleToScale"][0] == "True", seen
    REPORT.append(
        "autoscaling: on (ddp-streamer 2..6): the HorizontalPodAutoscaler created, the Deployment annotated (no roll, "
        f"still 2 pods); the API server's conditions of the autoscaler: {seen}"
    )
    progress.done.add("on")


@pytest.mark.parametrize(
    ("step", "change", "up_args"),
    [
        ("nothing to do", None, ()),
        ("ddp-streamer's pods roll", ("rocketchat:services.ddpStreamer.resources.requests.cpu", "300m"), ()),
        ("--refresh", None, ("--refresh",)),
    ],
)
def test_the_count_the_autoscaler_set_survives_pulumi_up(
    cluster: Cluster,
    stack: Stack,
    progress: Progress,
    step: str,
    change: tuple[str, str] | None,
    up_args: tuple[str, ...],
) -> None:
    progress.need("on")
    # What the autoscaler does: a new count through the Deployment's scale subresource, under a field manager of
    # its own (the controller manager's autoscaler does the same; it keeps a count between its bounds).
    cluster.run("scale", "deployment", STREAMER, "-n", NAMESPACE, f"--replicas={SCALED_BY_THE_AUTOSCALER}")
    streamer_available(cluster, SCALED_BY_THE_AUTOSCALER)
    before = rollouts(cluster, NAMESPACE)
    if change:
        stack.run("config", "set", "--path", *change)
    steps = steps_of(stack)
    assert replacing([s for s in stack.preview_steps() if s["op"] != "delete"]) == []
    assert all(op == "update" for op in steps.values()), steps
    assert set(steps) == ({f"Deployment::{STREAMER}"} if change else set()), steps
    stack.timed(f"autoscaling: up ({step})", "up", "--yes", "--skip-preview", *up_args)
    after = streamer_available(cluster, SCALED_BY_THE_AUTOSCALER)
    assert replicas(cluster) == SCALED_BY_THE_AUTOSCALER
    assert rolled(before, rollouts(cluster, NAMESPACE)) == ({STREAMER} if change else set())
    assert uid(cluster, "deployment", STREAMER, NAMESPACE) == stack.facts["streamer"]
    REPORT.append(
        f"autoscaling: ddp-streamer scaled to {SCALED_BY_THE_AUTOSCALER} through its scale subresource; `pulumi up` "
        f"({step}): {len(steps)} update(s), count after: {after[STREAMER]['spec']['replicas']}"
    )
    progress.done.add(f"kept: {step}")


def test_new_bounds_update_the_autoscaler_alone(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("kept: --refresh")
    stack.run("config", "set", "--path", "rocketchat:services.ddpStreamer.autoscaling.maxReplicas", "10")
    stack.run("config", "set", "--path", "rocketchat:services.ddpStreamer.autoscaling.minReplicas", "3")
    steps = steps_of(stack)
    assert steps == {f"HorizontalPodAutoscaler::{STREAMER}": "update"}, steps
    stack.timed("autoscaling: up (bounds 3..10)", "up", "--yes", "--skip-preview")
    hpa = cluster.json("get", "hpa", STREAMER, "-n", NAMESPACE)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert replicas(cluster) == SCALED_BY_THE_AUTOSCALER
    assert stack.outputs()["replicas"]["ddp-streamer"] == "3..10"
    progress.done.add("bounds")


def test_turning_autoscaling_off_hands_the_count_back_to_pulumi(
    cluster: Cluster, stack: Stack, progress: Progress
) -> None:
    progress.need("bounds")
    stack.run("config", "rm", "--path", "rocketchat:services.ddpStreamer.autoscaling")
    steps = steps_of(stack)
    assert steps == {f"HorizontalPodAutoscaler::{STREAMER}": "delete", f"Deployment::{STREAMER}": "update"}, steps
    stack.timed("autoscaling: up (autoscaling off)", "up", "--yes", "--skip-preview")
    assert cluster.run("get", "hpa", "-n", NAMESPACE, "-o", "name").stdout.strip() == ""
    deployment = cluster.json("get", "deployment", STREAMER, "-n", NAMESPACE)
    assert "rocketchat.chat/autoscaled-by" not in (deployment["metadata"].get("annotations") or {})
    streamer_available(cluster, 2)
    assert stack.outputs()["replicas"]["ddp-streamer"] == 2
    REPORT.append("autoscaling: off: the autoscaler deleted, the Deployment back at the 2 pods of the sizing")
    progress.done.add("off")


def test_destroy_leaves_nothing(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("up")
    destroy_completely(stack, cluster, NAMESPACE, "autoscaling", step="autoscaling: destroy")
