"""What the end-to-end scenarios share: stacks made from the real stack files, ordered steps, the API's view of
workloads (Deployments, ReplicaSets, StatefulSets, Services with endpoints) and the engine's preview steps."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.k8s import PART_OF
from tests.e2e.conftest import HERE, TIMINGS, Cluster, Pulumi

FAKE_LB_IP = "192.0.2.10"  # TEST-NET-1 (RFC 5737): an address that is only ever data here
OUTPUT_KEYS = {
    "url",
    "host",
    "namespace",
    "mode",
    "version",
    "ingressAddress",
    "gatewayAddress",
    "servedBy",
    "dnsRecords",
    "replicas",
}
REPLACING_OPS = ("replace", "create-replacement", "delete-replaced", "delete")


# --- stacks ------------------------------------------------------------------------------------------------------
def deep_merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        return {k: deep_merge(base.get(k), v) if k in base else v for k, v in extra.items()} | {
            k: v for k, v in base.items() if k not in extra
        }
    return extra


def cluster_overrides(cluster: Cluster, config: Mapping[str, Any]) -> dict[str, Any]:
    """The stack settings the cluster under test needs (kwok's nodes here; E2E_OVERRIDES for another cluster), for a
    stack with this config: the in-cluster MongoDB's settings only where it runs one."""
    path = os.environ.get("E2E_OVERRIDES") or (str(HERE / "overrides-kwok.yaml") if cluster.local else "")
    overrides = yaml.safe_load(Path(path).read_text()) if path else {}
    if "inCluster" not in (config.get("rocketchat:mongodb") or {}):
        overrides.pop("rocketchat:mongodb", None)
    return overrides


@dataclass
class Stack:
    """One Pulumi stack of the project copy, created from a stack file's config plus overrides."""

    pulumi: Pulumi
    name: str
    config: dict[str, Any]
    file: Path
    destroyed: bool = False
    facts: dict[str, Any] = field(default_factory=dict)
    """What one step learns for the next (outputs, object names, ReplicaSets before a change)."""

    def run(self, *args: str, check: bool = True) -> Any:
        return self.pulumi.run(*args, "-s", self.name, check=check)

    def timed(self, step: str, *args: str, check: bool = True) -> Any:
        return self.pulumi.timed(step, *args, "-s", self.name, check=check)

    def run_json(self, *args: str) -> Any:
        return json.loads(self.run(*args).stdout)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)

    def set_secret(self, key: str, value: str) -> None:
        self.run("config", "set", "--secret", key, value)

    def preview_steps(self, *args: str) -> list[dict[str, Any]]:
        return json.loads(self.run("preview", "--json", *args).stdout).get("steps") or []

    def destroy(self) -> None:
        self.run("destroy", "--yes", "--skip-preview", check=False)
        self.run("stack", "rm", "--yes", "--force", check=False)

    def retire(self) -> None:
        """The end of a scenario: destroy what a step that failed left behind, and remove the stack."""
        if self.destroyed:
            self.run("stack", "rm", "--yes", "--force", check=False)
        else:
            self.destroy()


def make_stack(
    pulumi: Pulumi,
    cluster: Cluster,
    name: str,
    stack_file: str,
    overrides: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Stack:
    """`pulumi stack init NAME` with the config of `stack_file` (a committed one), the cluster's overrides and the
    scenario's, then the secrets set as a user sets them (`pulumi config set --secret`)."""
    base = yaml.safe_load((pulumi.workdir / stack_file).read_text())
    pulumi.run("stack", "init", name, "--secrets-provider", "passphrase")
    path = pulumi.workdir / f"Pulumi.{name}.yaml"
    created = yaml.safe_load(path.read_text()) if path.exists() else {}
    # `secure:` values are encrypted for another stack: a new one cannot read them (its secrets are set below).
    readable = {k: v for k, v in (base.get("config") or {}).items() if not (isinstance(v, dict) and "secure" in v)}
    config = deep_merge(readable, dict(overrides or {}))
    config = deep_merge(config, cluster_overrides(cluster, config))
    path.write_text(yaml.safe_dump({**(created or {}), "config": config}, sort_keys=False))
    stack = Stack(pulumi, name, config, path)
    for key, value in (secrets or {}).items():
        stack.set_secret(key, value)
    return stack


class Progress:
    """Steps of a scenario run in order; a step whose predecessor failed is skipped (it would repeat the failure)."""

    def __init__(self) -> None:
        self.done: set[str] = set()

    def need(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip(f"an earlier step did not pass: {', '.join(missing)}")


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except AssertionError as e:
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}: {last}")
        time.sleep(every)


# --- the engine's view -------------------------------------------------------------------------------------------
def resource_type(step: dict) -> str:
    """The resource type of a preview step (the last element of the URN's type chain)."""
    return step["urn"].split("::")[2].split("$")[-1]


def kubernetes_steps(steps: list[dict], op: str | None = None) -> list[dict]:
    return [s for s in steps if resource_type(s).startswith("kubernetes:") and (op is None or s["op"] == op)]


def replacing(steps: list[dict]) -> list[tuple[str, str]]:
    """(op, URN) of every step that deletes something or replaces it."""
    return [(s["op"], s["urn"]) for s in steps if s["op"] in REPLACING_OPS]


# --- the API's view ----------------------------------------------------------------------------------------------
def condition(obj: dict, kind: str) -> str | None:
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") == kind:
            return c.get("status")
    return None


def deployments_available(cluster: Cluster, ns: str, expected: Mapping[str, int]) -> dict[str, dict]:
    """Every Deployment of `ns` Available with all its replicas ready and updated; names and counts as expected."""
    found = {d["metadata"]["name"]: d for d in cluster.items("deployments", ns)}
    assert {n: d["spec"]["replicas"] for n, d in found.items()} == dict(expected), "Deployments and replicas"
    for name, d in found.items():
        want = d["spec"]["replicas"]
        assert condition(d, "Available") == "True", f"Deployment {name} is not Available: {d.get('status')}"
        status = d["status"]
        assert status.get("readyReplicas", 0) == want and status.get("updatedReplicas", 0) == want, (name, status)
        assert status.get("replicas", 0) == want, f"Deployment {name} still runs old pods: {status}"
    return found


def statefulset_ready(cluster: Cluster, ns: str, name: str, replicas: int) -> dict:
    sts = cluster.json("get", "statefulset", name, "-n", ns)
    status = sts["status"]
    assert sts["spec"]["replicas"] == replicas, sts["spec"]["replicas"]
    assert status.get("readyReplicas", 0) == replicas, f"{name}: {status}"
    assert status.get("updateRevision") == status.get("currentRevision"), f"{name} is rolling: {status}"
    return sts


def services_with_endpoints(cluster: Cluster, ns: str) -> dict[str, int]:
    """Service name -> ready endpoints, asserting every Service with a selector has at least one."""
    ready: dict[str, int] = {}
    for s in cluster.items("endpointslices", ns):
        svc = s["metadata"].get("labels", {}).get("kubernetes.io/service-name")
        ready[svc] = ready.get(svc, 0) + sum(
            1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready") is not False
        )
    services = cluster.items("services", ns)
    assert services, f"no Service in {ns}"
    for svc in services:
        name = svc["metadata"]["name"]
        if svc["spec"].get("selector"):
            assert ready.get(name, 0) >= 1, f"Service {name} has no ready endpoint ({ready})"
    return {s["metadata"]["name"]: ready.get(s["metadata"]["name"], 0) for s in services}


@dataclass(frozen=True)
class Rollout:
    """A Deployment as the API shows it: its identity and the ReplicaSet that runs its current pods."""

    uid: str
    replica_set: str


def rollouts(cluster: Cluster, ns: str) -> dict[str, Rollout]:
    """Deployment name -> its UID and the name of its newest ReplicaSet (the one its pods come from)."""
    deployments = {d["metadata"]["name"]: d for d in cluster.items("deployments", ns)}
    newest: dict[str, tuple[int, str]] = {}
    for rs in cluster.items("replicasets", ns):
        owner = next((o for o in rs["metadata"].get("ownerReferences") or [] if o["kind"] == "Deployment"), None)
        if owner is None or owner["name"] not in deployments:
            continue
        revision = int(rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0"))
        if revision > newest.get(owner["name"], (-1, ""))[0]:
            newest[owner["name"]] = (revision, rs["metadata"]["name"])
    return {name: Rollout(d["metadata"]["uid"], newest[name][1]) for name, d in deployments.items()}


def uid(cluster: Cluster, kind: str, name: str, ns: str) -> str:
    return cluster.json("get", kind, name, "-n", ns)["metadata"]["uid"]


def rolled(before: Mapping[str, Rollout], after: Mapping[str, Rollout]) -> set[str]:
    """The Deployments that got a new ReplicaSet, after asserting that none was deleted and created again."""
    assert before.keys() == after.keys(), (sorted(before), sorted(after))
    recreated = [n for n in before if before[n].uid != after[n].uid]
    assert recreated == [], f"Deployments deleted and created again (new UID): {recreated}"
    return {n for n in before if before[n].replica_set != after[n].replica_set}


def format_rollouts(before: Mapping[str, Rollout], after: Mapping[str, Rollout]) -> str:
    """A table for the log: Deployment, UID (kept or not), ReplicaSet before -> after."""
    rows = []
    for name in sorted(before):
        same_uid = "same UID" if before[name].uid == after[name].uid else "NEW UID"
        moved = "" if before[name].replica_set == after[name].replica_set else "  (rolled)"
        rows.append(
            f"  {name:<32} {before[name].uid[:8]} {same_uid:<8} {before[name].replica_set} -> "
            f"{after[name].replica_set}{moved}"
        )
    return "\n".join(rows)


def destroy_completely(stack: Stack, cluster: Cluster, ns: str, label: str, step: str) -> list[str]:
    """`pulumi destroy` as a scenario's last step (timed as `step`), then what `assert_destroyed` checks."""
    stack.timed(step, "destroy", "--yes", "--skip-preview")
    stack.destroyed = True
    return assert_destroyed(stack, cluster, ns, label)


def assert_destroyed(stack: Stack, cluster: Cluster, ns: str, label: str, namespace_owned: bool = True) -> list[str]:
    """After `pulumi destroy`: the stack records nothing, its namespace is gone (when it made it), and no
    cluster-scoped object of it, nor a volume of its claims, is left. Returns what the namespace still holds."""
    exported = json.loads(stack.run("stack", "export").stdout)
    assert exported["deployment"].get("resources") in (None, []), "the stack still records resources"

    def namespace_gone() -> bool:
        proc = cluster.run("get", "namespace", ns, "--ignore-not-found", "-o", "name", check=False)
        return proc.returncode == 0 and proc.stdout.strip() == ""

    left: list[str] = []
    if namespace_owned:
        t0 = time.monotonic()
        wait_for(f"namespace {ns} to be gone", namespace_gone, timeout=120)
        TIMINGS[f"{label}: namespace finalized after destroy"] = time.monotonic() - t0
    else:
        kinds = "deployments,statefulsets,services,secrets,ingresses,networkpolicies,poddisruptionbudgets,configmaps"
        proc = cluster.run("get", kinds, "-n", ns, "-o", "name", "-l", f"app.kubernetes.io/part-of={PART_OF}")
        left = proc.stdout.split()

    def leftovers() -> list[str]:
        return [
            f"{kind}/{o['metadata']['name']}"
            for kind in ("clusterroles", "clusterrolebindings", "persistentvolumes", "storageclasses")
            for o in cluster.items(kind)
            if o["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == PART_OF
            or (o.get("spec", {}).get("claimRef") or {}).get("namespace") == ns
        ]

    def none_left() -> bool:
        found = leftovers()
        assert not found, found
        return True

    wait_for("cluster-scoped leftovers to go", none_left, timeout=60)
    return left


def without_ready_endpoints(cluster: Cluster, namespace: str, services: set[str]) -> str:
    """ "" when every one of `services` has a ready endpoint, else which have none."""
    ready: dict[str, int] = {}
    for s in cluster.items("endpointslices", namespace):
        svc = s["metadata"].get("labels", {}).get("kubernetes.io/service-name")
        ready[svc] = ready.get(svc, 0) + sum(
            1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready") is not False
        )
    missing = sorted(b for b in services if not ready.get(b))
    return f"no ready endpoint behind {missing}" if missing else ""


class IngressWatch:
    """Samples, every half second while a block runs, whether each backend of the Ingress is a Service with a ready
    endpoint: the Ingress keeps a backend throughout an update when no sample ever failed."""

    def __init__(self, cluster: Cluster, namespace: str, ingress: str) -> None:
        self.cluster, self.namespace, self.ingress = cluster, namespace, ingress
        self.samples: list[tuple[float, str]] = []
        """(seconds since the start, "" when every backend had a ready endpoint, else what was missing)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> str:
        ingress = self.cluster.json("get", "ingress", self.ingress, "-n", self.namespace)
        backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
        return without_ready_endpoints(self.cluster, self.namespace, backends)

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - t0, self._sample()))
            except AssertionError as e:  # kubectl refused: the Ingress itself is gone
                self.samples.append((time.monotonic() - t0, f"no Ingress: {str(e)[:200]}"))
            self._stop.wait(0.5)

    def __enter__(self) -> IngressWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def gaps(self) -> list[tuple[float, str]]:
        return [(t, what) for t, what in self.samples if what]
