"""The dev stack through the real engine: preview, up, the objects in the API server, the outputs contract, refresh
following the Ingress status, a config change with its diff, a no-op up, and a destroy that leaves nothing behind.

The steps run in order and share one stack; a step whose predecessor failed is skipped (it would only repeat the
failure). Timings are printed at the end of the run (section "e2e timings").
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.k8s import PART_OF
from tests.e2e.conftest import HERE, TIMINGS, Cluster, Pulumi

pytestmark = pytest.mark.e2e

FAKE_LB_IP = "192.0.2.10"  # TEST-NET-1 (RFC 5737): an address that is only ever data here
NEW_HOST = "chat2.e2e.example.com"
MONOLITH = "rocketchat"  # the monolith's key in the `replicas` output (workloads are keyed by name)
OUTPUT_KEYS = {"url", "host", "namespace", "mode", "version", "ingressAddress", "dnsRecords", "replicas"}


# --- the stack ---------------------------------------------------------------------------------------------------
def _deep_merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        return {k: _deep_merge(base.get(k), v) if k in base else v for k, v in extra.items()} | {
            k: v for k, v in base.items() if k not in extra
        }
    return extra


def _overrides(cluster: Cluster) -> dict[str, Any]:
    path = os.environ.get("E2E_OVERRIDES") or (str(HERE / "overrides-kwok.yaml") if cluster.local else "")
    return yaml.safe_load(Path(path).read_text()) if path else {}


class Progress:
    def __init__(self) -> None:
        self.done: set[str] = set()

    def need(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip(f"an earlier step did not pass: {', '.join(missing)}")


@pytest.fixture(scope="module")
def progress() -> Progress:
    return Progress()


@pytest.fixture(scope="module")
def stack(pulumi: Pulumi, cluster: Cluster, project: Path) -> Iterator[dict[str, Any]]:
    """Stack `e2e`: the dev stack's config plus the overrides this cluster needs; destroyed at the end whatever
    happened (the last test checks that it was destroyed cleanly)."""
    dev = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    pulumi.run("stack", "init", pulumi.stack, "--secrets-provider", "passphrase")
    stack_file = project / f"Pulumi.{pulumi.stack}.yaml"
    created = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else {}
    config = _deep_merge(dev.get("config", {}), _overrides(cluster))
    stack_file.write_text(yaml.safe_dump({**(created or {}), "config": config}, sort_keys=False))
    info = {"config": config, "file": stack_file}
    yield info
    if not info.get("destroyed"):
        pulumi.run("destroy", "--yes", "-s", pulumi.stack, check=False)
    pulumi.run("stack", "rm", "--yes", "--force", "-s", pulumi.stack, check=False)


def _wait(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 1) -> Any:
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


def _condition(obj: dict, kind: str) -> str | None:
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") == kind:
            return c.get("status")
    return None


def _steps(preview_json: str) -> list[dict]:
    return json.loads(preview_json).get("steps") or []


def _type(step: dict) -> str:
    """The resource type of a step (the last element of the URN's type chain)."""
    return step["urn"].split("::")[2].split("$")[-1]


def _k8s_steps(steps: list[dict], op: str | None = None) -> list[dict]:
    return [s for s in steps if _type(s).startswith("kubernetes:") and (op is None or s["op"] == op)]


# --- the steps ---------------------------------------------------------------------------------------------------
def test_preview(pulumi: Pulumi, stack: dict, progress: Progress) -> None:
    proc = pulumi.timed("preview (create)", "preview", "--json", "-s", pulumi.stack)
    steps = _steps(proc.stdout)
    creates = _k8s_steps(steps, "create")
    types = {_type(s) for s in creates}
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


def test_up(pulumi: Pulumi, stack: dict, progress: Progress) -> None:
    progress.need("preview")
    proc = pulumi.timed("up (create)", "up", "--yes", "--skip-preview", "-s", pulumi.stack)
    assert "error" not in proc.stderr.lower(), proc.stderr
    stack["up_output"] = proc.stdout
    progress.done.add("up")


def test_outputs_contract(pulumi: Pulumi, stack: dict, progress: Progress) -> None:
    progress.need("up")
    out = pulumi.outputs()
    stack["raw_outputs"] = dict(out)
    assert set(out) == OUTPUT_KEYS, f"outputs {sorted(out)} differ from the contract {sorted(OUTPUT_KEYS)}"
    config = stack["config"]
    assert out["host"] == config["rocketchat:host"]
    assert out["url"] in (f"http://{out['host']}", f"https://{out['host']}")
    assert out["namespace"] == config["rocketchat:namespace"]
    assert out["mode"] == config["rocketchat:mode"]
    assert out["version"] == config["rocketchat:version"]
    assert out["ingressAddress"] == "", "no controller has published an address yet"
    assert out["dnsRecords"] == []
    assert isinstance(out["replicas"], dict) and out["replicas"]
    assert all(isinstance(n, int) and n >= 1 for n in out["replicas"].values()), out["replicas"]
    stack["outputs"] = out
    progress.done.add("outputs")


def test_the_address_output_exists_before_an_address_does(stack: dict, progress: Progress) -> None:
    """The contract: `ingressAddress` is "" until the controller publishes an address (the engine drops nulls)."""
    progress.need("outputs")
    raw = stack["raw_outputs"]
    assert raw.get("ingressAddress") == "", sorted(raw)


def _check_workloads(cluster: Cluster, ns: str, replicas: dict[str, int]) -> dict[str, Any]:
    deployments = cluster.items("deployments", ns)
    statefulsets = cluster.items("statefulsets", ns)
    assert deployments, f"no Deployment in {ns}"
    for d in deployments:
        name = d["metadata"]["name"]
        want = d["spec"].get("replicas", 1)
        assert _condition(d, "Available") == "True", f"Deployment {name} is not Available: {d.get('status')}"
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


def _check_services(cluster: Cluster, ns: str) -> list[dict]:
    services = cluster.items("services", ns)
    slices = cluster.items("endpointslices", ns)
    ready: dict[str, int] = {}
    for s in slices:
        svc = s["metadata"].get("labels", {}).get("kubernetes.io/service-name")
        ready[svc] = ready.get(svc, 0) + sum(
            1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready") is not False
        )
    assert services, f"no Service in {ns}"
    for svc in services:
        name = svc["metadata"]["name"]
        if svc["spec"].get("selector"):
            assert ready.get(name, 0) >= 1, f"Service {name} has no ready endpoint ({ready})"
    return services


def test_objects_in_the_api(pulumi: Pulumi, cluster: Cluster, stack: dict, progress: Progress) -> None:
    progress.need("outputs")
    out = stack["outputs"]
    ns = out["namespace"]
    t0 = time.monotonic()
    assert cluster.json("get", "namespace", ns)["status"]["phase"] == "Active"
    _wait("workloads ready", lambda: _check_workloads(cluster, ns, out["replicas"]), timeout=90)
    _wait("services with endpoints", lambda: _check_services(cluster, ns), timeout=90)

    ingresses = cluster.items("ingresses", ns)
    assert len(ingresses) == 1, [i["metadata"]["name"] for i in ingresses]
    ingress = ingresses[0]
    rules = ingress["spec"]["rules"]
    assert [r["host"] for r in rules] == [out["host"]]
    backends = {p["backend"]["service"]["name"] for r in rules for p in r["http"]["paths"]}
    service_names = {s["metadata"]["name"] for s in cluster.items("services", ns)}
    assert backends <= service_names, f"Ingress backends {backends} are not Services {service_names}"
    if (stack["config"].get("rocketchat:ingress") or {}).get("skipAwait"):
        assert ingress["metadata"]["annotations"].get("pulumi.com/skipAwait") == "true"

    secrets = {s["metadata"]["name"]: s for s in cluster.items("secrets", ns)}
    for name, key in (("rocketchat-mongodb", "mongo-uri"), ("rocketchat-bus", "transporter")):
        assert name in secrets, f"Secret {name} missing: {sorted(secrets)}"
        value = base64.b64decode(secrets[name]["data"][key]).decode()
        assert "://" in value, f"{name}/{key} is not a URL"
    bus = base64.b64decode(secrets["rocketchat-bus"]["data"]["transporter"]).decode()
    assert bus.startswith("nats://") and "@" in bus, "the bus URL carries the generated credentials"
    TIMINGS["API-side checks"] = time.monotonic() - t0
    stack["ingress"] = ingress["metadata"]["name"]
    progress.done.add("api")


def test_refresh_follows_the_ingress_status(pulumi: Pulumi, cluster: Cluster, stack: dict, progress: Progress) -> None:
    progress.need("api")
    ns, name = stack["outputs"]["namespace"], stack["ingress"]
    patch = json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": FAKE_LB_IP}]}}})
    cluster.run("patch", "ingress", name, "-n", ns, "--subresource=status", "--type=merge", "-p", patch)
    pulumi.timed("refresh", "refresh", "--yes", "--skip-preview", "-s", pulumi.stack)
    after_refresh = pulumi.outputs()
    # Outputs are the program's: a refresh updates the Ingress state, the next run of the program reads it.
    pulumi.timed("up (outputs after refresh)", "up", "--yes", "--skip-preview", "-s", pulumi.stack)
    out = pulumi.outputs()
    assert out["ingressAddress"] == FAKE_LB_IP, (after_refresh, out)
    assert out["dnsRecords"] == [{"name": out["host"], "type": "A", "value": FAKE_LB_IP, "ttl": 300}]
    stack["outputs"] = out
    progress.done.add("refresh")


def test_second_up_changes_nothing(pulumi: Pulumi, stack: dict, progress: Progress) -> None:
    progress.need("refresh")
    preview = pulumi.timed("preview (no change)", "preview", "--json", "-s", pulumi.stack)
    changed = [(s["op"], s["urn"]) for s in _steps(preview.stdout) if s["op"] != "same"]
    assert changed == [], changed
    proc = pulumi.timed("up (no change)", "up", "--yes", "--expect-no-changes", "-s", pulumi.stack)
    assert "unchanged" in proc.stdout, proc.stdout[-2000:]
    progress.done.add("noop")


def test_config_change_diff_and_apply(pulumi: Pulumi, cluster: Cluster, stack: dict, progress: Progress) -> None:
    progress.need("noop")
    before = stack["outputs"]
    monolith = before["replicas"][MONOLITH]
    pulumi.run("config", "set", "--path", "rocketchat:monolith.replicas", str(monolith + 1), "-s", pulumi.stack)
    pulumi.run("config", "set", "rocketchat:host", NEW_HOST, "-s", pulumi.stack)

    text = pulumi.timed("preview --diff (change)", "preview", "--diff", "-s", pulumi.stack).stdout
    assert f"replicas: {monolith} => {monolith + 1}" in text, text[-4000:]
    assert NEW_HOST in text and before["host"] in text, text[-4000:]
    steps = _steps(pulumi.run("preview", "--json", "-s", pulumi.stack).stdout)
    updates = {_type(s): s for s in _k8s_steps(steps, "update")}
    assert "kubernetes:apps/v1:Deployment" in updates, sorted(updates)
    assert "kubernetes:networking.k8s.io/v1:Ingress" in updates, sorted(updates)
    replaced = [s["urn"] for s in steps if s["op"] in ("replace", "create-replacement", "delete", "delete-replaced")]
    assert replaced == [], f"a replicas/host change must update in place, not replace: {replaced}"

    pulumi.timed("up (change)", "up", "--yes", "--skip-preview", "-s", pulumi.stack)
    out = pulumi.outputs()
    assert out["host"] == NEW_HOST and out["url"].endswith(NEW_HOST)
    assert out["replicas"][MONOLITH] == monolith + 1
    ns = out["namespace"]
    _wait("workloads ready after the change", lambda: _check_workloads(cluster, ns, out["replicas"]), timeout=90)
    ingress = cluster.json("get", "ingress", stack["ingress"], "-n", ns)
    assert [r["host"] for r in ingress["spec"]["rules"]] == [NEW_HOST]
    # the status the controller published survives the update, and the DNS record follows the new host
    assert out["ingressAddress"] == FAKE_LB_IP
    assert out["dnsRecords"] == [{"name": NEW_HOST, "type": "A", "value": FAKE_LB_IP, "ttl": 300}]
    pulumi.timed("up (no change after the change)", "up", "--yes", "--expect-no-changes", "-s", pulumi.stack)
    stack["outputs"] = out
    progress.done.add("change")


def test_destroy_leaves_nothing(pulumi: Pulumi, cluster: Cluster, stack: dict, progress: Progress) -> None:
    progress.need("up")
    ns = stack["config"]["rocketchat:namespace"]
    pulumi.timed("destroy", "destroy", "--yes", "--skip-preview", "-s", pulumi.stack)
    stack["destroyed"] = True
    exported = json.loads(pulumi.run("stack", "export", "-s", pulumi.stack).stdout)
    assert exported["deployment"].get("resources") in (None, []), "the stack still records resources"

    def namespace_gone() -> bool:
        proc = cluster.run("get", "namespace", ns, "--ignore-not-found", "-o", "name", check=False)
        return proc.returncode == 0 and proc.stdout.strip() == ""

    t0 = time.monotonic()
    _wait(f"namespace {ns} to be gone", namespace_gone, timeout=120)
    TIMINGS["namespace finalized after destroy"] = time.monotonic() - t0

    def leftovers() -> list[str]:
        """Cluster-scoped objects of the stack, and volumes that its claims left."""
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

    _wait("cluster-scoped leftovers to go", none_left, timeout=60)
