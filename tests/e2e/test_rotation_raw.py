"""Credential rotation in raw mode through the real engine: the production stack's config rendered as raw resources.

A new `mongoUrl` rolls every Rocket.Chat Deployment, a new licence the monolith alone, new NATS credentials the NATS
StatefulSet and every Rocket.Chat Deployment: each time the Secrets keep their UIDs (updated in place, never missing)
and every Deployment keeps its UID (a new ReplicaSet, not a new Deployment).
"""

from __future__ import annotations

import base64
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
    rolled,
    rollouts,
    statefulset_ready,
    uid,
    wait_for,
)

pytestmark = pytest.mark.e2e

STACK = "raw-rotation-e2e"
NAMESPACE = "rocketchat-raw"
MONGO_URL = "mongodb://rocketchat:first-password@mongo-0.db.example.net:27017/rocketchat?replicaSet=rs0"
NEW_MONGO_URL = "mongodb://rocketchat:second-password@mongo-0.db.example.net:27017/rocketchat?replicaSet=rs0"
DEPLOYMENTS = {
    "rocketchat-rocketchat": 3,
    "rocketchat-account": 2,
    "rocketchat-authorization": 2,
    "rocketchat-presence": 2,
    "rocketchat-ddp-streamer": 10,
}
NATS_PASSWORD_URN_SUFFIX = "GeneratedPassword::nats-client-password"


@pytest.fixture(scope="module")
def stack(pulumi: Pulumi, cluster: Cluster) -> Iterator[Stack]:
    stack = make_stack(
        pulumi,
        cluster,
        STACK,
        "Pulumi.prod.yaml",
        overrides={"rocketchat:mode": "raw", "rocketchat:namespace": NAMESPACE},
        secrets={"rocketchat:mongoUrl": MONGO_URL, "rocketchat:license": "e2e-licence-one"},
    )
    yield stack
    stack.retire()


def settled(cluster: Cluster) -> dict:
    deployments_available(cluster, NAMESPACE, DEPLOYMENTS)
    statefulset_ready(cluster, NAMESPACE, "rocketchat-nats", 3)
    return rollouts(cluster, NAMESPACE)


def test_up(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    stack.timed("raw: up (create)", "up", "--yes", "--skip-preview")
    wait_for("the raw stack ready", lambda: settled(cluster), timeout=120)
    progress.done.add("up")


@pytest.mark.parametrize(
    ("key", "value", "secret", "readers"),
    [
        ("rocketchat:mongoUrl", NEW_MONGO_URL, "rocketchat-mongodb", set(DEPLOYMENTS)),
        ("rocketchat:license", "e2e-licence-two", "rocketchat-license", {"rocketchat-rocketchat"}),
    ],
    ids=["mongoUrl", "license"],
)
def test_rotating_a_credential_rolls_exactly_its_readers(
    cluster: Cluster, stack: Stack, progress: Progress, key: str, value: str, secret: str, readers: set[str]
) -> None:
    progress.need("up")
    before, secret_uid = settled(cluster), uid(cluster, "secret", secret, NAMESPACE)
    nats_revision = statefulset_ready(cluster, NAMESPACE, "rocketchat-nats", 3)["status"]["currentRevision"]

    stack.set_secret(key, value)
    steps = stack.preview_steps()
    assert replacing(steps) == [], "a rotation replaces nothing"
    updated = sorted(s["urn"].rsplit("::", 1)[1] for s in steps if s["op"] == "update")
    assert updated == sorted([secret, *readers]), updated
    stack.timed(f"raw: up (rotate {key.split(':')[1]})", "up", "--yes", "--skip-preview")

    after = wait_for("the rollout to finish", lambda: settled(cluster), timeout=120)
    assert rolled(before, after) == readers
    assert uid(cluster, "secret", secret, NAMESPACE) == secret_uid, f"{secret} was deleted and created again"
    [data] = cluster.json("get", "secret", secret, "-n", NAMESPACE)["data"].values()
    assert base64.b64decode(data).decode() == value
    assert statefulset_ready(cluster, NAMESPACE, "rocketchat-nats", 3)["status"]["currentRevision"] == nats_revision
    REPORT.append(f"raw: rotating {key} (Secret {secret} kept UID {secret_uid[:8]}):")
    REPORT.append(format_rollouts(before, after))
    progress.done.add(key)


def test_new_nats_credentials_roll_nats_and_every_rocketchat_workload(
    cluster: Cluster, stack: Stack, progress: Progress
) -> None:
    """The documented rotation of the bus password: `pulumi up --replace <URN of nats-client-password>`."""
    progress.need("up")
    before = settled(cluster)
    uids = {name: uid(cluster, "secret", name, NAMESPACE) for name in ("rocketchat-nats-config", "rocketchat-bus")}
    nats_before = statefulset_ready(cluster, NAMESPACE, "rocketchat-nats", 3)
    urns = [r["urn"] for r in stack.run_json("stack", "export")["deployment"]["resources"]]
    [password] = [u for u in urns if u.endswith(NATS_PASSWORD_URN_SUFFIX)]

    steps = stack.preview_steps("--replace", password)
    replaced = replacing(steps)
    assert {urn for _, urn in replaced} == {password}, replaced  # the password alone is made anew
    stack.timed("raw: up (new NATS password)", "up", "--yes", "--skip-preview", "--replace", password)

    after = wait_for("NATS and Rocket.Chat rolled", lambda: settled(cluster), timeout=180)
    assert rolled(before, after) == set(DEPLOYMENTS)
    nats_after = statefulset_ready(cluster, NAMESPACE, "rocketchat-nats", 3)
    assert nats_after["metadata"]["uid"] == nats_before["metadata"]["uid"]
    assert nats_after["status"]["currentRevision"] != nats_before["status"]["currentRevision"], "NATS did not roll"
    assert {name: uid(cluster, "secret", name, NAMESPACE) for name in uids} == uids
    REPORT.append(
        f"raw: new NATS password: StatefulSet rocketchat-nats {nats_before['status']['currentRevision']} -> "
        f"{nats_after['status']['currentRevision']} (same UID); Secrets rocketchat-nats-config and rocketchat-bus "
        "kept their UIDs"
    )
    REPORT.append(format_rollouts(before, after))
    progress.done.add("nats")


def test_destroy_leaves_nothing(cluster: Cluster, stack: Stack, progress: Progress) -> None:
    progress.need("up")
    destroy_completely(stack, cluster, NAMESPACE, "raw", step="raw: destroy")
