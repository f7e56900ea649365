"""The committed dev stack, run through the recording engine: what a user relies on after `pulumi up -s dev`."""

from __future__ import annotations

import copy
from urllib.parse import urlparse

from tests.conftest import container, deployments, env, pod_spec, secret_ref
from tools.engine import contains_secret, reveal, run_program

SERVICES = ["rocketchat-account", "rocketchat-authorization", "rocketchat-presence", "rocketchat-ddp-streamer"]
ALL_WORKLOADS = ["rocketchat-rocketchat", *SERVICES]


def secret_data(recording, name: str) -> dict[str, str]:
    return reveal(recording.one("kubernetes:core/v1:Secret", name).inputs)["stringData"]


def test_dev_registers_namespace_nats_mongodb_monolith_four_services_and_ingress(dev) -> None:
    kinds = {(r.kind, r.k8s_name) for r in dev.resources if r.type.startswith("kubernetes:")}
    assert ("Namespace", "rocketchat-dev") in kinds
    assert ("StatefulSet", "rocketchat-nats") in kinds
    assert ("StatefulSet", "rocketchat-mongodb") in kinds
    assert ("Ingress", "rocketchat") in kinds
    assert sorted(deployments(dev)) == sorted(ALL_WORKLOADS)
    assert not dev.of_type("kubernetes:helm.sh/v3:Release")


def test_components_are_typed_component_resources(dev) -> None:
    types = {r.type for r in dev.resources if r.type.startswith("rocketchat:")}
    assert types == {
        "rocketchat:index:RocketChatStack",
        "rocketchat:index:NatsCluster",
        "rocketchat:index:MongoReplicaSet",
        "rocketchat:index:MicroserviceSet",
        "rocketchat:index:RocketChatIngress",
        "rocketchat:index:StackNetworkPolicies",
    }


def test_every_container_reads_mongo_url_and_transporter_from_secrets_the_stack_creates(dev) -> None:
    assert sorted(deployments(dev)) == sorted(ALL_WORKLOADS)
    for name, deployment in deployments(dev).items():
        mongo_secret, mongo_key = secret_ref(deployment, "MONGO_URL")
        bus_secret, bus_key = secret_ref(deployment, "TRANSPORTER")
        assert (mongo_secret, mongo_key) == ("rocketchat-mongodb", "mongo-uri"), name
        assert (bus_secret, bus_key) == ("rocketchat-bus", "transporter"), name
        assert mongo_key in secret_data(dev, mongo_secret)
        assert bus_key in secret_data(dev, bus_secret)


def test_mongo_url_points_at_the_in_cluster_replica_set(dev) -> None:
    url = secret_data(dev, "rocketchat-mongodb")["mongo-uri"]
    assert url == (
        "mongodb://rocketchat-mongodb-0.rocketchat-mongodb-headless.rocketchat-dev.svc.cluster.local:27017/"
        "rocketchat?replicaSet=rs0"
    )
    mongo = reveal(dev.one("StatefulSet", "rocketchat-mongodb").inputs)
    assert mongo["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["--replSet", "rs0"]
    assert mongo["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"] == {"storage": "8Gi"}
    # Every member converges the replica set's membership from its readiness probe (components/mongodb.py).
    readiness = mongo["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]
    assert "rs.initiate" in readiness[-1]


def test_transporter_carries_the_nats_client_credentials(dev) -> None:
    url = urlparse(secret_data(dev, "rocketchat-bus")["transporter"])
    assert (url.scheme, url.username, url.hostname, url.port) == (
        "nats",
        "rocketchat",
        "rocketchat-nats.rocketchat-dev.svc.cluster.local",
        4222,
    )
    config = secret_data(dev, "rocketchat-nats-config")["nats.conf"]
    assert f'user: "rocketchat", password: "{url.password}"' in config


def test_secret_values_are_pulumi_secrets(dev) -> None:
    for name in ("rocketchat-mongodb", "rocketchat-bus", "rocketchat-nats-config"):
        string_data = dev.one("kubernetes:core/v1:Secret", name).inputs["stringData"]
        assert contains_secret(string_data), name


def test_broker_settings_port_and_health_probes_on_every_workload(dev) -> None:
    assert sorted(deployments(dev)) == sorted(ALL_WORKLOADS)
    for name, deployment in deployments(dev).items():
        variables = env(deployment)
        assert variables["RETRY_ENABLED"]["value"] == "true", name
        assert variables["PORT"]["value"] == "3000", name
        assert variables["MS_METRICS_PORT"]["value"] == "9458", name
        spec = container(deployment)
        # The monolith's readiness is /readyz from 8.3 (components/version_table.py; tests/test_version_table.py).
        paths = {"startupProbe": "/health", "livenessProbe": "/health"}
        paths["readinessProbe"] = "/readyz" if name == "rocketchat-rocketchat" else "/health"
        for probe, path in paths.items():
            assert spec[probe]["httpGet"] == {"path": path, "port": "http"}, (name, probe)
        assert {"name": "http", "containerPort": 3000} in spec["ports"]


def test_monolith_gets_root_url_and_pod_ip_and_no_licence_without_one(dev) -> None:
    monolith = env(deployments(dev)["rocketchat-rocketchat"])
    assert monolith["ROOT_URL"]["value"] == "http://chat.dev.example.com"
    assert monolith["INSTANCE_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert "ROCKETCHAT_LICENSE" not in monolith
    for service in SERVICES:
        assert "ROOT_URL" not in env(deployments(dev)[service])


def test_all_workloads_run_the_same_pinned_version(dev) -> None:
    tags = {container(d)["image"].rsplit(":", 1)[1] for d in deployments(dev).values()}
    assert tags == {"8.6.1"}


def test_services_expose_the_monolith_on_80_and_ddp_streamer_on_3000_with_client_ip_affinity(dev) -> None:
    monolith = reveal(dev.one("kubernetes:core/v1:Service", "rocketchat-rocketchat").inputs)["spec"]
    assert monolith["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    assert "sessionAffinity" not in monolith
    streamer = reveal(dev.one("kubernetes:core/v1:Service", "rocketchat-ddp-streamer").inputs)["spec"]
    assert streamer["ports"] == [{"name": "http", "port": 3000, "targetPort": "http"}]
    assert streamer["sessionAffinity"] == "ClientIP"


def test_each_service_selects_exactly_its_own_pods(dev) -> None:
    for service_name in ("rocketchat-rocketchat", "rocketchat-ddp-streamer"):
        selector = reveal(dev.one("kubernetes:core/v1:Service", service_name).inputs)["spec"]["selector"]
        matching = [
            name
            for name, deployment in deployments(dev).items()
            if selector.items() <= reveal(deployment.inputs)["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert matching == [service_name]


def ingress_routes(recording) -> dict[str, tuple[str, str]]:
    spec = reveal(recording.one("Ingress", "rocketchat").inputs)["spec"]
    [rule] = spec["rules"]
    return {
        p["path"]: (p["backend"]["service"]["name"], p["backend"]["service"]["port"]["name"])
        for p in rule["http"]["paths"]
        if p["pathType"] == "Prefix"
    }


def test_ingress_sends_websocket_and_sockjs_to_ddp_streamer_and_the_rest_to_the_monolith(dev) -> None:
    assert ingress_routes(dev) == {
        "/websocket": ("rocketchat-ddp-streamer", "http"),
        "/sockjs": ("rocketchat-ddp-streamer", "http"),
        "/": ("rocketchat-rocketchat", "http"),
    }
    ingress = reveal(dev.one("Ingress", "rocketchat").inputs)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"][0]["host"] == "chat.dev.example.com"
    assert "tls" not in ingress["spec"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"


def test_ingress_backends_name_ports_the_services_really_have(dev) -> None:
    assert len(ingress_routes(dev)) == 3
    for service_name, port_name in ingress_routes(dev).values():
        ports = reveal(dev.one("kubernetes:core/v1:Service", service_name).inputs)["spec"]["ports"]
        assert port_name in {p["name"] for p in ports}


def test_nats_is_a_parallel_statefulset_with_probes_and_lame_duck(dev) -> None:
    nats = reveal(dev.one("StatefulSet", "rocketchat-nats").inputs)
    assert nats["spec"]["podManagementPolicy"] == "Parallel"
    assert nats["spec"]["serviceName"] == "rocketchat-nats-headless"
    spec = nats["spec"]["template"]["spec"]["containers"][0]
    assert spec["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "monitor"}
    assert spec["lifecycle"]["preStop"]["exec"]["command"] == ["nats-server", "--signal=ldm=/var/run/nats/nats.pid"]
    headless = reveal(dev.one("kubernetes:core/v1:Service", "rocketchat-nats-headless").inputs)["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    # One node: no PDB to guard it (a PDB on a single pod would block every drain).
    assert not [p for p in dev.of_type("PodDisruptionBudget") if p.k8s_name == "rocketchat-nats"]


NATS_CHILD = "rocketchat:index:NatsCluster$"
"""In the URN of every resource the stack's NatsCluster registers."""


def nats_objects(recording) -> dict[str, str]:
    """`Kind/resource name` -> Kubernetes name, for every Kubernetes object of the stack's NatsCluster."""
    return {
        f"{r.kind}/{r.name}": r.k8s_name
        for r in recording.resources
        if NATS_CHILD in r.urn and r.type.startswith("kubernetes:")
    }


def test_a_stack_made_when_nats_had_its_fixed_name_keeps_it_for_every_nats_object(dev) -> None:
    """Renaming a StatefulSet replaces it: a stack whose last update made NATS as `nats` (before the instance named
    it) goes on with that name for each of its objects, and the TRANSPORTER goes on reaching it there."""
    earlier = copy.deepcopy(dev)
    [statefulset] = [r for r in earlier.of_type("StatefulSet") if NATS_CHILD in r.urn]
    statefulset.outputs["metadata"]["name"] = "nats"
    legacy = run_program("dev", deployed=earlier)
    assert nats_objects(legacy) == {
        "StatefulSet/nats": "nats",
        "Service/nats": "nats",
        "Service/nats-headless": "nats-headless",
        "Secret/nats-config": "nats-config",
    }
    assert reveal(legacy.one("StatefulSet", "nats").inputs)["spec"]["serviceName"] == "nats-headless"
    url = urlparse(secret_data(legacy, "rocketchat-bus")["transporter"])
    assert (url.scheme, url.hostname, url.port) == ("nats", "nats.rocketchat-dev.svc.cluster.local", 4222)
    assert f'password: "{url.password}"' in secret_data(legacy, "nats-config")["nats.conf"]
    # Not the program's default: the same stack made under the instance's names keeps those.
    assert nats_objects(run_program("dev", deployed=dev)) == {
        "StatefulSet/nats": "rocketchat-nats",
        "Service/nats": "rocketchat-nats",
        "Service/nats-headless": "rocketchat-nats-headless",
        "Secret/nats-config": "rocketchat-nats-config",
    }


def test_outputs_follow_the_contract(dev) -> None:
    assert dev.outputs == {
        "url": "http://chat.dev.example.com",
        "host": "chat.dev.example.com",
        "namespace": "rocketchat-dev",
        "mode": "raw",
        "version": "8.6.1",
        "ingressAddress": "",
        "gatewayAddress": "",
        "servedBy": "ingress",
        "dnsRecords": [],
        "replicas": {
            "rocketchat": 1,
            "account": 1,
            "authorization": 1,
            "presence": 1,
            "ddp-streamer": 1,
            "nats": 1,
            "mongodb": 1,
        },
    }


def test_outputs_carry_the_load_balancer_address_and_dns_records() -> None:
    ipv4 = run_program("dev", ingress_status={"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}})
    assert ipv4.outputs["ingressAddress"] == "203.0.113.7"
    assert ipv4.outputs["dnsRecords"] == [
        {"name": "chat.dev.example.com", "type": "A", "value": "203.0.113.7", "ttl": 300}
    ]
    ipv6 = run_program("dev", ingress_status={"loadBalancer": {"ingress": [{"ip": "2001:db8::7"}]}})
    assert ipv6.outputs["dnsRecords"][0]["type"] == "AAAA"
    named = run_program("dev", ingress_status={"loadBalancer": {"ingress": [{"hostname": "lb-1.elb.example.net"}]}})
    assert named.outputs["dnsRecords"] == [
        {"name": "chat.dev.example.com", "type": "CNAME", "value": "lb-1.elb.example.net", "ttl": 300}
    ]


def test_every_object_sits_under_the_component_that_builds_it(dev) -> None:
    """The tree `pulumi preview` shows, and what URNs are made of: each component registers its objects with
    parent=self, the components sit under RocketChatStack, and RocketChatStack under the stack itself."""
    by_urn = {r.urn: r for r in dev.resources}
    assert len(by_urn) == len(dev.resources)  # every URN unique
    stack = dev.one("rocketchat:index:RocketChatStack", "rocketchat")
    assert stack.parent == "urn:pulumi:dev::rocketchat::pulumi:pulumi:Stack::rocketchat-dev"

    owners: dict[str, set[str]] = {}
    for resource in dev.resources:
        if resource is not stack:
            owner = by_urn[resource.parent].kind if resource.parent in by_urn else f"not a component: {resource.parent}"
            owners.setdefault(owner, set()).add(f"{resource.kind}/{resource.name}")
    assert owners == {
        "RocketChatStack": {
            "Namespace/rocketchat-dev",
            "GeneratedPassword/rollout-key",
            "Secret/rocketchat-mongodb",
            "Secret/rocketchat-bus",
            "NatsCluster/nats",
            "MongoReplicaSet/mongodb",
            "MicroserviceSet/rocketchat",
            "RocketChatIngress/rocketchat",
            "StackNetworkPolicies/network",
        },
        "NatsCluster": {
            "GeneratedPassword/nats-client-password",
            "GeneratedPassword/nats-route-password",
            "GeneratedPassword/nats-rollout-key",
            "Secret/nats-config",
            "Service/nats",
            "Service/nats-headless",
            "StatefulSet/nats",
        },
        "MongoReplicaSet": {"Service/mongodb-headless", "StatefulSet/mongodb"},
        "MicroserviceSet": {
            "Deployment/rocketchat-rocketchat",
            "Deployment/rocketchat-account",
            "Deployment/rocketchat-authorization",
            "Deployment/rocketchat-presence",
            "Deployment/rocketchat-ddp-streamer",
            "Service/rocketchat-rocketchat",  # the catalog gives a Service to what the Ingress reaches, no other
            "Service/rocketchat-ddp-streamer",
        },
        "RocketChatIngress": {"Ingress/rocketchat"},
        "StackNetworkPolicies": {
            f"NetworkPolicy/rocketchat-{name}" for name in ("default-deny-ingress", "web", "nats", "mongodb", "metrics")
        },
    }


def test_no_output_holds_a_credential(dev) -> None:
    text = repr(dev.outputs)
    transporter = secret_data(dev, "rocketchat-bus")["transporter"]
    assert urlparse(transporter).password not in text
    assert dev.secret_outputs == set()


def test_pods_share_the_stack_placement_from_config() -> None:
    toleration = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
    recording = run_program(
        "dev", {"rocketchat:scheduling": {"tolerations": [toleration], "nodeSelector": {"type": "kwok"}}}
    )
    workloads = recording.of_type("Deployment") + recording.of_type("StatefulSet")
    assert len(workloads) == 7
    for workload in workloads:
        spec = pod_spec(workload)
        assert spec["tolerations"] == [toleration], workload.name
        assert spec["nodeSelector"] == {"type": "kwok"}, workload.name
