"""Traffic after ingress-nginx on the real engine: the Gateway API's CRDs (the locked standard channel) judge the
stack's HTTPRoute; a live stack moves from its Ingress to a Gateway with both published, then the Ingress removed,
the route's backends ready throughout; the outputs follow the Gateway's address after `up --refresh`.

The Gateway itself is a platform team's object: the scenario makes one (and patches its status as a controller
would: the local cluster runs no gateway controller), the stack only reads it.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import REPORT, Cluster, Pulumi
from tests.e2e.support import Progress, Stack, destroy_completely, make_stack, wait_for, without_ready_endpoints

pytestmark = pytest.mark.e2e

NS = "gw-e2e"
GATEWAYS = "gw-e2e-gateways"
GATEWAY_IP = "192.0.2.44"  # TEST-NET-1 (RFC 5737): only ever data here
PUBLIC = {"parentRefs": [{"name": "public", "namespace": GATEWAYS}]}


def gateway_manifest() -> str:
    return yaml.safe_dump_all(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GATEWAYS}},
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "public", "namespace": GATEWAYS},
                "spec": {
                    "gatewayClassName": "e2e",
                    "listeners": [
                        {
                            "name": "http",
                            "protocol": "HTTP",
                            "port": 80,
                            "allowedRoutes": {"namespaces": {"from": "All"}},
                        }
                    ],
                },
            },
        ]
    )


class RouteWatch:
    """Samples, every half second while a block runs, whether each backend of the stack's HTTPRoute is a Service with
    a ready endpoint."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.samples: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> str:
        route = self.cluster.json("get", "httproutes.gateway.networking.k8s.io", "rocketchat", "-n", NS)
        backends = {ref["name"] for rule in route["spec"]["rules"] for ref in rule["backendRefs"]}
        return without_ready_endpoints(self.cluster, NS, backends)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(self._sample())
            except AssertionError as error:
                self.samples.append(f"no route: {str(error)[:200]}")
            self._stop.wait(0.5)

    def __enter__(self) -> RouteWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture(scope="module")
def stack(pulumi: Pulumi, cluster: Cluster, gateway_crds: str) -> Any:
    cluster.run("apply", "-f", "-", input=gateway_manifest())
    made = make_stack(pulumi, cluster, "gateway-e2e", "Pulumi.dev.yaml", overrides={"rocketchat:namespace": NS})
    yield made
    made.retire()
    cluster.run("delete", "namespace", GATEWAYS, "--ignore-not-found", "--wait=false", check=False)


def route_applies(cluster: Cluster, spec_patch: dict[str, Any]) -> tuple[int, str]:
    """A server-side dry run of the stack's route with `spec_patch` laid over its spec: what the CRD's rules say."""
    route = cluster.json("get", "httproutes.gateway.networking.k8s.io", "rocketchat", "-n", NS)
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        route["metadata"].pop(key, None)
    route.pop("status", None)
    route["spec"].update(spec_patch)
    proc = cluster.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=e2e-probe",
        "--force-conflicts",
        "-f",
        "-",
        input=json.dumps(route),
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_ingress_first(stack: Stack, cluster: Cluster, progress: Progress) -> None:
    stack.timed("gateway: up (Ingress only)", "up", "--yes", "--skip-preview")
    assert cluster.items("ingresses", NS)
    assert stack.outputs()["servedBy"] == "ingress"
    progress.done.add("ingress")


def test_both_published_then_the_gateway_address_followed(stack: Stack, cluster: Cluster, progress: Progress) -> None:
    progress.need("ingress")
    stack.run("config", "set", "--path", "rocketchat:gateway.parentRefs[0].name", "public")
    stack.run("config", "set", "--path", "rocketchat:gateway.parentRefs[0].namespace", GATEWAYS)
    stack.run("config", "set", "--path", "rocketchat:gateway.https", "false")  # the listener is plain HTTP here
    stack.run("config", "set", "--path", "rocketchat:ingress.enabled", "true")
    stack.timed("gateway: up (Ingress and HTTPRoute)", "up", "--yes", "--skip-preview")
    assert cluster.items("ingresses", NS)
    route = cluster.json("get", "httproutes.gateway.networking.k8s.io", "rocketchat", "-n", NS)
    assert route["spec"]["rules"][0]["timeouts"] == {"request": "0s"}
    assert stack.outputs()["servedBy"] == "gateway" and stack.outputs()["gatewayAddress"] == ""

    # The CRD's own rules judge a broken route (a backend timeout longer than the request's).
    code, said = route_applies(
        cluster, {"rules": [{**route["spec"]["rules"][0], "timeouts": {"request": "1s", "backendRequest": "10s"}}]}
    )
    assert code != 0 and "backendRequest timeout cannot be longer than request timeout" in said, said
    code, said = route_applies(cluster, {})
    assert code == 0, said

    # A gateway controller publishes the address; the next `up --refresh` reads it.
    cluster.run(
        "patch",
        "gateways.gateway.networking.k8s.io",
        "public",
        "-n",
        GATEWAYS,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"addresses": [{"type": "IPAddress", "value": GATEWAY_IP}]}}),
    )
    stack.timed("gateway: up --refresh (address)", "up", "--yes", "--skip-preview", "--refresh")
    outputs = stack.outputs()
    assert outputs["gatewayAddress"] == GATEWAY_IP
    assert outputs["dnsRecords"] == [{"name": "chat.dev.example.com", "type": "A", "value": GATEWAY_IP, "ttl": 300}]
    REPORT.append(
        f"gateway: route accepted by the API server (Gateway API CRDs), a broken one refused by its CEL rule; "
        f"outputs after `up --refresh`: gatewayAddress {outputs['gatewayAddress']}, dnsRecords {outputs['dnsRecords']}"
    )
    progress.done.add("both")


def test_the_ingress_removed_with_the_route_serving_throughout(
    stack: Stack, cluster: Cluster, progress: Progress
) -> None:
    progress.need("both")
    wait_for("the route's backends", lambda: RouteWatch(cluster)._sample() == "", timeout=120)
    stack.run("config", "set", "--path", "rocketchat:ingress.enabled", "false")
    with RouteWatch(cluster) as watch:
        t0 = time.monotonic()
        stack.timed("gateway: up (Ingress removed)", "up", "--yes", "--skip-preview")
        took = time.monotonic() - t0
    assert cluster.items("ingresses", NS) == []
    gaps = [s for s in watch.samples if s]
    assert watch.samples and not gaps, gaps
    REPORT.append(
        f"gateway: Ingress removed in {took:.1f} s; the route's backends had a ready endpoint in all "
        f"{len(watch.samples)} samples"
    )
    destroy_completely(stack, cluster, NS, "gateway", step="gateway: destroy")
