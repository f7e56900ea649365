"""Two workspaces in one cluster on the real engine: two stacks of the dev config, in their own namespaces with their
own hosts, side by side; destroying one leaves every object of the other as it was (same UIDs, same ReplicaSets,
still ready)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import REPORT, Cluster, Pulumi
from tests.e2e.support import deployments_available, destroy_completely, make_stack, rollouts, wait_for

pytestmark = pytest.mark.e2e

WORKSPACES = {"team-a": "chat.team-a.example.com", "team-b": "chat.team-b.example.com"}
DEPLOYMENTS = {f"rocketchat-{w}": 1 for w in ("rocketchat", "account", "authorization", "presence", "ddp-streamer")}


def everything(cluster: Cluster, ns: str) -> dict[str, str]:
    """kind/name -> UID of every object of the namespace the stack made (and the ReplicaSets behind its pods)."""
    kinds = "deployments,replicasets,statefulsets,services,secrets,ingresses,networkpolicies,poddisruptionbudgets"
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["uid"]
        for o in cluster.json("get", kinds, "-n", ns)["items"]
        if not o["metadata"]["name"].startswith("default-token")
    }


def test_two_workspaces_side_by_side_and_one_destroyed(pulumi: Pulumi, cluster: Cluster) -> None:
    stacks = {
        name: make_stack(
            pulumi,
            cluster,
            f"ws-{name}",
            "Pulumi.dev.yaml",
            overrides={"rocketchat:namespace": f"ws-{name}", "rocketchat:host": host},
        )
        for name, host in WORKSPACES.items()
    }
    try:
        for name, stack in stacks.items():
            stack.timed(f"workspaces: up ({name})", "up", "--yes", "--skip-preview")
        for name in WORKSPACES:
            wait_for(name, lambda n=name: deployments_available(cluster, f"ws-{n}", DEPLOYMENTS), timeout=120)
        hosts = {
            name: [r["host"] for i in cluster.items("ingresses", f"ws-{name}") for r in i["spec"]["rules"]]
            for name in WORKSPACES
        }
        assert hosts == {name: [host] for name, host in WORKSPACES.items()}
        survivor = everything(cluster, "ws-team-a")
        survivor_rollouts = rollouts(cluster, "ws-team-a")
        assert len(survivor) > 20, survivor

        destroy_completely(stacks["team-b"], cluster, "ws-team-b", "workspaces", step="workspaces: destroy (team-b)")
        assert everything(cluster, "ws-team-a") == survivor, "destroying team-b touched team-a"
        assert rollouts(cluster, "ws-team-a") == survivor_rollouts
        deployments_available(cluster, "ws-team-a", DEPLOYMENTS)
        stacks["team-a"].run("up", "--yes", "--expect-no-changes")
        REPORT.append(
            f"workspaces: team-a and team-b side by side; team-b destroyed, team-a's {len(survivor)} objects kept "
            "their UIDs and ReplicaSets, and its next `up` changes nothing"
        )
    finally:
        for stack in stacks.values():
            if not stack.destroyed:
                stack.destroy()
            else:
                stack.run("stack", "rm", "--yes", "--force", check=False)
