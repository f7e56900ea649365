"""A workspace's life in raw mode on the real engine, from the seed's monolith to a scaled microservices install:
conversion to microservices and back, an upgrade across 7.x -> 8.x (stream-hub goes away), scaling through
`concurrentUsers` down and up, drift made with kubectl found by `preview --refresh` and undone by `up --refresh`, and
a bad config refused by the real CLI with nothing changed. After each step: what the API shows (ReplicaSets before and
after, replica counts), and that no resource the step does not concern was replaced.
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
    format_rollouts,
    make_stack,
    replacing,
    resource_type,
    rolled,
    rollouts,
    statefulset_ready,
    uid,
    wait_for,
)

pytestmark = pytest.mark.e2e

STACK = "lifecycle-e2e"
NAMESPACE = "rocketchat-life"
MONGO_URL = "mongodb://rocketchat:life-password@mongo-0.db.example.net:27017/rocketchat?replicaSet=rs0"
SERVICES = ("account", "authorization", "presence", "ddp-streamer")


@pytest.fixture(scope="module")
def stack(pulumi: Pulumi, cluster: Cluster) -> Iterator[Stack]:
    """Production's config in raw mode, as the seed ran it: Rocket.Chat 7.6.2, the monolith alone."""
    stack = make_stack(
        pulumi,
        cluster,
        STACK,
        "Pulumi.prod.yaml",
        overrides={
            "rocketchat:mode": "raw",
            "rocketchat:namespace": NAMESPACE,
            "rocketchat:version": "7.6.2",
            "rocketchat:microservices": False,
        },
        secrets={"rocketchat:mongoUrl": MONGO_URL, "rocketchat:license": "e2e-licence"},
    )
    yield stack
    stack.retire()


def expected(stack: Stack) -> dict[str, int]:
    """Deployment name -> replicas, from the `replicas` output (the contract says it is what runs)."""
    return {f"rocketchat-{k}": n for k, n in stack.outputs()["replicas"].items() if k not in ("nats", "mongodb")}


def settle(cluster: Cluster, stack: Stack) -> dict:
    want = expected(stack)
    return wait_for(
        "every Deployment Available at its replicas",
        lambda: deployments_available(cluster, NAMESPACE, want) and rollouts(cluster, NAMESPACE),
        timeout=120,
    )


def apply(stack: Stack, step: str, *config: tuple[str, ...]) -> list[dict]:
    """Set config, preview (nothing replaced), apply; returns the preview's steps."""
    for args in config:
        stack.run("config", *args)
    steps = stack.preview_steps()
    assert replacing([s for s in steps if s["op"] != "delete"]) == [], f"{step}: a replacement"
    stack.timed(f"lifecycle: up ({step})", "up", "--yes", "--skip-preview")
    return steps


def typed(step: dict) -> str:
    """`Kind::name` of a preview step: `Deployment::rocketchat-account`."""
    return f"{resource_type(step).rsplit(':', 1)[-1]}::{step['urn'].rsplit('::', 1)[1]}"


def images(cluster: Cluster) -> dict[str, str]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in cluster.items("deployments", NAMESPACE)
    }


def monolith_probes(cluster: Cluster) -> dict[str, str]:
    """The monolith's probe paths as the API server holds them."""
    deployment = cluster.json("get", "deployment", "rocketchat-rocketchat", "-n", NAMESPACE)
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "rocketchat")
    return {kind: container[f"{kind}Probe"]["httpGet"]["path"] for kind in ("startup", "readiness", "liveness")}


def test_the_seeds_monolith(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    preview = stack.run("preview").stdout
    # 7.6.2 (2025-05-30) left its six-month support window on 2025-11-30: the preview says so, and is no error.
    assert "rocketchat:version 7.6.2 was released on 2025-05-30 and left Rocket.Chat's six-month support window" in (
        preview
    ), preview[-3000:]
    stack.timed("lifecycle: up (monolith 7.6.2)", "up", "--yes", "--skip-preview")
    found = settle(cluster, stack)
    assert set(found) == {"rocketchat-rocketchat"}
    assert monolith_probes(cluster) == {"startup": "/health", "readiness": "/health", "liveness": "/health"}
    REPORT.append(f"lifecycle: 7.6.2's monolith probes {monolith_probes(cluster)}; its preview warned of the window")
    stack.facts["nats"] = uid(cluster, "statefulset", "rocketchat-nats", NAMESPACE)
    progress.done.add("monolith")


def test_converting_to_microservices_keeps_the_monolith_and_adds_the_services(
    cluster: Cluster, stack: Stack, progress: Progress
) -> None:
    progress.need("monolith")
    before = rollouts(cluster, NAMESPACE)
    steps = apply(stack, "microservices on", ("set", "rocketchat:microservices", "true"))
    created = {typed(s) for s in steps if s["op"] == "create"}
    assert {f"Deployment::rocketchat-{s}" for s in (*SERVICES, "stream-hub")} <= created, created
    assert "Service::rocketchat-ddp-streamer" in created
    after = settle(cluster, stack)
    assert set(after) == {"rocketchat-rocketchat", "rocketchat-stream-hub", *(f"rocketchat-{s}" for s in SERVICES)}
    # The monolith is the same Deployment: a new ReplicaSet, as its bus URL changed from monolith+nats:// to nats://.
    assert after["rocketchat-rocketchat"].uid == before["rocketchat-rocketchat"].uid
    assert after["rocketchat-rocketchat"].replica_set != before["rocketchat-rocketchat"].replica_set
    hub = cluster.json("get", "deployment", "rocketchat-stream-hub", "-n", NAMESPACE)
    assert (hub["spec"]["replicas"], hub["spec"]["strategy"]["type"]) == (1, "Recreate")
    assert uid(cluster, "statefulset", "rocketchat-nats", NAMESPACE) == stack.facts["nats"]
    REPORT.append(f"lifecycle: monolith -> microservices (7.6.2): Deployments now {sorted(after)}")
    REPORT.append(format_rollouts(before, {k: v for k, v in after.items() if k in before}))
    progress.done.add("microservices")


def test_an_upgrade_across_8_0_moves_every_image_and_retires_stream_hub(
    cluster: Cluster, stack: Stack, progress: Progress
) -> None:
    progress.need("microservices")
    before = rollouts(cluster, NAMESPACE)
    steps = apply(stack, "7.6.2 -> 8.6.1", ("set", "rocketchat:version", "8.6.1"))
    deleted = [typed(s) for s in steps if s["op"] == "delete"]
    assert deleted == ["Deployment::rocketchat-stream-hub"], deleted
    after = settle(cluster, stack)
    assert "rocketchat-stream-hub" not in after
    assert set(images(cluster).values()) == {
        f"{image}:8.6.1"
        for image in (
            "registry.rocket.chat/rocketchat/rocket.chat",
            *(f"docker.io/rocketchat/{s}-service" for s in SERVICES),
        )
    }
    kept = {k: v for k, v in before.items() if k in after}
    assert rolled(kept, after) == set(after), "every image moved in the one update"
    assert monolith_probes(cluster) == {"startup": "/health", "readiness": "/readyz", "liveness": "/health"}
    REPORT.append(f"lifecycle: 8.6.1's monolith probes {monolith_probes(cluster)}")
    REPORT.append("lifecycle: 7.6.2 -> 8.6.1 in one update (stream-hub deleted, every other Deployment rolled):")
    REPORT.append(format_rollouts(kept, after))
    progress.done.add("upgrade")


@pytest.mark.parametrize(("users", "pods"), [(1000, 2), (3000, 6)])
def test_scaling_through_concurrent_users(
    cluster: Cluster, stack: Stack, progress: Progress, users: int, pods: int
) -> None:
    progress.need("upgrade")
    before = rollouts(cluster, NAMESPACE)
    steps = apply(stack, f"{users} users", ("set", "rocketchat:concurrentUsers", str(users)))
    updated = {s["urn"].rsplit("::", 1)[1] for s in steps if s["op"] == "update"}
    assert "rocketchat-ddp-streamer" in updated and updated <= {"rocketchat-ddp-streamer"}, updated
    after = settle(cluster, stack)
    assert cluster.json("get", "deployment", "rocketchat-ddp-streamer", "-n", NAMESPACE)["spec"]["replicas"] == pods
    assert rolled(before, after) == set(), "a new replica count is no new pod template"
    REPORT.append(f"lifecycle: concurrentUsers {users}: ddp-streamer at {pods} pods, no Deployment rolled")
    progress.done.add(f"scale {users}")


def test_drift_is_seen_by_a_refresh_and_undone_by_up(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("scale 3000")
    cluster.run("scale", "deployment", "rocketchat-ddp-streamer", "-n", NAMESPACE, "--replicas", "9")
    quiet = stack.preview_steps()
    assert [s for s in quiet if s["op"] != "same"] == [], "without a refresh Pulumi cannot know"
    text = stack.timed("lifecycle: preview --refresh (drift)", "preview", "--refresh", "--diff").stdout
    assert "9 => 6" in text, text[-3000:]
    stack.timed("lifecycle: up --refresh (drift)", "up", "--refresh", "--yes", "--skip-preview")
    settle(cluster, stack)
    assert cluster.json("get", "deployment", "rocketchat-ddp-streamer", "-n", NAMESPACE)["spec"]["replicas"] == 6
    REPORT.append(
        "lifecycle: ddp-streamer scaled to 9 with kubectl; `preview --refresh` showed 9 => 6; `up --refresh` restored 6"
    )
    progress.done.add("drift")


def test_a_bad_config_is_refused_by_the_cli_and_changes_nothing(
    cluster: Cluster, stack: Stack, progress: Progress
) -> None:
    progress.need("drift")
    before = rollouts(cluster, NAMESPACE)
    stack.run("config", "set", "--path", "rocketchat:services.ddpStreamer.replicas", "0")
    proc = stack.run("up", "--yes", "--skip-preview", check=False)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "invalid stack configuration in Pulumi.lifecycle-e2e.yaml (1 problem)" in said
    assert "rocketchat:services.ddpStreamer.replicas: Input should be greater than or equal to 1 (got 0)" in said
    assert "Traceback" not in said
    assert rollouts(cluster, NAMESPACE) == before
    stack.run("config", "rm", "--path", "rocketchat:services.ddpStreamer.replicas")
    stack.run("up", "--yes", "--expect-no-changes")
    message = next(line.strip() for line in said.splitlines() if "ddpStreamer.replicas:" in line)
    REPORT.append(f"lifecycle: bad config: exit code {proc.returncode}, {message!r}; nothing changed in the cluster")
    progress.done.add("bad config")


def test_back_to_the_monolith(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("bad config")
    before = rollouts(cluster, NAMESPACE)
    steps = apply(stack, "microservices off", ("set", "rocketchat:microservices", "false"))
    deleted = {s["urn"].rsplit("::", 1)[1] for s in steps if s["op"] == "delete"}
    assert {f"rocketchat-{s}" for s in SERVICES} <= deleted
    after = settle(cluster, stack)
    assert set(after) == {"rocketchat-rocketchat"}
    assert after["rocketchat-rocketchat"].uid == before["rocketchat-rocketchat"].uid
    assert uid(cluster, "statefulset", "rocketchat-nats", NAMESPACE) == stack.facts["nats"]
    statefulset_ready(cluster, NAMESPACE, "rocketchat-nats", 3)
    REPORT.append("lifecycle: microservices -> monolith: the services deleted, the monolith the same Deployment")
    progress.done.add("monolith again")


def test_destroy_leaves_nothing(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("monolith")
    destroy_completely(stack, cluster, NAMESPACE, "lifecycle", step="lifecycle: destroy")
