"""Adopting a Rocket.Chat installed by hand with `helm install` of the pinned chart (a monolith, as a first install
usually is), on the real engine: `pulumi import` brings the release under a stack without restarting a pod, and the
next `pulumi up` converts it to microservices with the program's NATS, Secrets and values (the release upgraded in
place, not replaced).

    helm install rocketchat rocketchat --repo <repository> --version 7.0.2 -n adopt --create-namespace -f seed.yaml
    pulumi config set rocketchat:namespace adopt; pulumi config set rocketchat:createNamespace false
    pulumi import kubernetes:helm.sh/v3:Release rocketchat adopt/rocketchat
    pulumi up
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import REPORT, ChartRepository, Cluster, Pulumi
from tests.e2e.support import deployments_available, make_stack, replacing, rollouts, wait_for

pytestmark = pytest.mark.e2e

NAMESPACE = "adopt"
RELEASE = "rocketchat"
MONGO_URL = "mongodb://rocketchat:seed-password@mongo-0.db.example.net:27017/rocketchat?replicaSet=rs0"
SEED_VALUES = {
    "image": {"tag": "8.6.1"},
    "replicaCount": 2,
    "microservices": {"enabled": False},
    "mongodb": {"enabled": False},
    "externalMongodbUrl": MONGO_URL,
    "nats": {"enabled": False},
    "ingress": {"enabled": False},
    # kwok's fake nodes (tests/e2e/overrides-kwok.yaml says why)
    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
    "nodeSelector": {"type": "kwok"},
}


def helm(tools: Path, cluster: Cluster, scratch: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **cluster.env,
        "KUBECONFIG": str(cluster.kubeconfig),
        "HELM_CACHE_HOME": str(scratch / "cache"),
        "HELM_CONFIG_HOME": str(scratch / "config"),
        "HELM_DATA_HOME": str(scratch / "data"),
    }
    return subprocess.run(
        [str(tools / "helm"), *args], env=env, capture_output=True, text=True, timeout=600, check=True
    )


def pods(cluster: Cluster) -> dict[str, str]:
    return {p["metadata"]["name"]: p["metadata"]["uid"] for p in cluster.items("pods", NAMESPACE)}


def test_a_hand_installed_release_is_imported_without_a_restart_then_converted(
    tools: Path, pulumi: Pulumi, cluster: Cluster, chart_repo: ChartRepository, tmp_path: Path
) -> None:
    if not os.access(tools / "helm", os.X_OK):
        pytest.skip(f"no helm in {tools}: build it with scripts/e2e-toolchain (the helm piece)")
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump(SEED_VALUES))
    helm(tools, cluster, tmp_path, "install", RELEASE, "rocketchat", "--repo", chart_repo.url, "--version", "7.0.2",
         "-n", NAMESPACE, "--create-namespace", "-f", str(seed), "--wait", "--timeout", "5m")  # fmt: skip
    monolith = {f"{RELEASE}-rocketchat": 2}
    wait_for("the seed's monolith", lambda: deployments_available(cluster, NAMESPACE, monolith), timeout=120)
    seed_pods, seed_rollouts = pods(cluster), rollouts(cluster, NAMESPACE)

    stack = make_stack(
        pulumi,
        cluster,
        "adopt-e2e",
        "Pulumi.prod.yaml",
        overrides={
            "rocketchat:namespace": NAMESPACE,
            "rocketchat:createNamespace": False,
            "rocketchat:chart": {"repo": chart_repo.url},
        },
        secrets={"rocketchat:mongoUrl": MONGO_URL, "rocketchat:license": "e2e-licence"},
    )
    try:
        stack.timed(
            "adopt: pulumi import (the release)",
            "import", "kubernetes:helm.sh/v3:Release", RELEASE, f"{NAMESPACE}/{RELEASE}",
            "--yes", "--skip-preview", "--generate-code=false",
        )  # fmt: skip
        assert pods(cluster) == seed_pods, "the import restarted a pod"
        resources = stack.run_json("stack", "export")["deployment"]["resources"]
        assert [r["type"] for r in resources if r["type"].startswith("kubernetes:helm")] == [
            "kubernetes:helm.sh/v3:Release"
        ]
        REPORT.append(f"adopt: `pulumi import` of the hand-installed release: {len(seed_pods)} pods, none restarted")

        steps = stack.preview_steps()
        release_steps = [(s["op"], s["urn"]) for s in steps if s["urn"].endswith(f"helm.sh/v3:Release::{RELEASE}")]
        # Reached through the alias: upgraded in place, under the URN the program gives it.
        assert [op for op, _ in release_steps] == ["update"], release_steps
        assert replacing(steps) == [], "adopting replaces nothing"
        stack.timed("adopt: up (converted to microservices)", "up", "--yes", "--skip-preview")
        converted = {f"{RELEASE}-{w}": n for w, n in stack.outputs()["replicas"].items() if w != "nats"}
        found = wait_for("microservices", lambda: deployments_available(cluster, NAMESPACE, converted), timeout=120)
        after = rollouts(cluster, NAMESPACE)
        assert after[f"{RELEASE}-rocketchat"].uid == seed_rollouts[f"{RELEASE}-rocketchat"].uid, (
            "the monolith was recreated"
        )
        revisions = sorted(
            int(s["metadata"]["labels"]["version"])
            for s in cluster.items("secrets", NAMESPACE)
            if s["metadata"].get("labels", {}).get("owner") == "helm"
        )
        REPORT.append(
            f"adopt: then `pulumi up` converted it: Deployments {sorted(found)}, the monolith the same Deployment "
            f"({seed_rollouts[f'{RELEASE}-rocketchat'].replica_set} -> {after[f'{RELEASE}-rocketchat'].replica_set}), "
            f"Helm revisions {revisions}"
        )
        assert revisions[-1] == 2, revisions
    finally:
        stack.timed("adopt: destroy", "destroy", "--yes", "--skip-preview", check=False)
        stack.run("stack", "rm", "--yes", "--force", check=False)
        cluster.run("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)
