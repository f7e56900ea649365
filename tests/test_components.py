"""Each component alone, from minimal args, in Pulumi's own test style (`@pulumi.runtime.test`): what it registers,
under it, and what its outputs say. The whole-program tests (test_stack_*.py) check the components composed."""

from __future__ import annotations

from typing import Any

from components.credentials import secret_key
from components.ingress import RocketChatIngress
from components.microservices import MicroserviceSet
from components.mongodb import MongoReplicaSet
from components.nats import NatsCluster
from components.network import StackNetworkPolicies
from components.release import RocketChatRelease
from components.stack import RocketChatStack
from tests.conftest import built, children
from tools.engine import Recording, reveal


def test_a_nats_cluster_from_a_namespace_alone(recording: Recording) -> None:
    def make() -> Any:
        nats = NatsCluster("bus", {"namespace": "team"})
        return [nats.client_url, nats.selector]

    url, selector = built(make)
    assert url.startswith("nats://rocketchat:generated-bus-client-password@bus.team.svc.cluster.local:4222")
    assert selector == {
        "app.kubernetes.io/name": "nats",
        "app.kubernetes.io/instance": "rocketchat",
        "app.kubernetes.io/component": "nats",
    }
    owned = children(recording, "bus")
    assert sorted(owned) == [
        "GeneratedPassword/bus-client-password",
        "GeneratedPassword/bus-rollout-key",
        "GeneratedPassword/bus-route-password",
        "Secret/bus-config",
        "Service/bus",
        "Service/bus-headless",
        "StatefulSet/bus",
    ], "one server: no PodDisruptionBudget"
    assert owned["StatefulSet/bus"]["spec"]["replicas"] == 1
    assert "cluster {" not in owned["Secret/bus-config"]["stringData"]["nats.conf"], "a lone server"


def test_a_nats_clusters_passwords_are_32_characters_stored_encrypted(recording: Recording) -> None:
    """The passwords and the rollout key ask for 32 characters, and the engine stores each result encrypted in the
    state whatever the program does with it (the option is on the resource, not on its readers)."""
    built(lambda: NatsCluster("bus", {"namespace": "team"}).client_url)
    passwords = [r for r in recording.resources if r.kind == "GeneratedPassword"]
    assert len(passwords) == 3
    assert {(r.inputs["length"], tuple(r.additional_secret_outputs)) for r in passwords} == {(32, ("result",))}


def test_three_nats_servers_get_routes_and_a_disruption_budget(recording: Recording) -> None:
    built(lambda: NatsCluster("bus", {"namespace": "team", "replicas": 3, "instance": "bridge"}).client_url)
    owned = children(recording, "bus")
    assert owned["PodDisruptionBudget/bus"]["spec"]["maxUnavailable"] == 1
    assert owned["Secret/bus-config"]["stringData"]["nats.conf"].count("bus-headless.team.svc.cluster.local:6222") == 3
    assert owned["StatefulSet/bus"]["metadata"]["labels"]["app.kubernetes.io/instance"] == "bridge"


def test_a_mongo_replica_set_from_a_namespace_alone(recording: Recording) -> None:
    url = built(lambda: MongoReplicaSet("db", {"namespace": "team"}).url)
    assert url == "mongodb://db-0.db-headless.team.svc.cluster.local:27017/rocketchat?replicaSet=rs0"
    owned = children(recording, "db")
    assert sorted(owned) == ["Service/db-headless", "StatefulSet/db"]
    claim = owned["StatefulSet/db"]["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"] == {"storage": "8Gi"}


def test_an_ingress_with_the_monolith_alone(recording: Recording) -> None:
    address = built(
        lambda: (
            RocketChatIngress(
                "chat", {"namespace": "team", "host": "chat.team.example", "monolith_service": "web"}
            ).address
        )
    )
    assert address == "", "no controller has published one"
    [spec] = [i["spec"] for k, i in children(recording, "chat").items() if k.startswith("Ingress/")]
    paths = spec["rules"][0]["http"]["paths"]
    assert [(p["path"], p["backend"]["service"]["name"]) for p in paths] == [("/", "web")]
    assert spec["ingressClassName"] == "nginx" and "tls" not in spec


def test_a_microservice_set_with_a_monolith_and_ddp_streamer(recording: Recording) -> None:
    def make() -> Any:
        services = MicroserviceSet(
            "chat",
            {
                "namespace": "team",
                "version": "8.6.1",
                "root_url": "https://chat.team.example",
                "workloads": [{"key": "monolith", "replicas": 2}, {"key": "ddpStreamer", "replicas": 3}],
                "mongo_url": secret_key("db", "mongo-uri"),
                "transporter": secret_key("bus", "transporter"),
            },
        )
        return [services.service_names, services.deployment_names]

    service_names, deployment_names = built(make)
    assert set(service_names) == {"monolith", "ddpStreamer"}
    assert deployment_names == {"monolith": "rocketchat-rocketchat", "ddpStreamer": "rocketchat-ddp-streamer"}
    owned = children(recording, "chat")
    monolith = owned["Deployment/rocketchat-rocketchat"]["spec"]
    env = {e["name"]: e for e in monolith["template"]["spec"]["containers"][0]["env"]}
    assert env["MONGO_URL"]["valueFrom"]["secretKeyRef"] == {"name": "db", "key": "mongo-uri"}
    assert "ROCKETCHAT_LICENSE" not in env
    assert monolith["replicas"] == 2
    assert {"PodDisruptionBudget/rocketchat-rocketchat", "PodDisruptionBudget/rocketchat-ddp-streamer"} <= set(owned)


def test_a_release_of_the_chart_with_the_stacks_secrets(recording: Recording) -> None:
    def make() -> Any:
        release = RocketChatRelease(
            "chat",
            {
                "namespace": "team",
                "version": "8.6.1",
                "root_url": "https://chat.team.example",
                "workloads": [{"key": "monolith", "replicas": 1}, {"key": "presence", "replicas": 2}],
                "mongo_secret": secret_key("db", "mongo-uri"),
                "transporter_secret": secret_key("bus", "transporter"),
            },
        )
        return [release.monolith_service, release.ddp_streamer_service]

    assert built(make) == ["rocketchat-rocketchat", "rocketchat-ddp-streamer"]
    owned = children(recording, "chat")
    values = owned["Release/rocketchat"]["values"]
    assert values["existingMongodbSecret"] == "db"
    assert values["nats"] == {"enabled": False, "existingSecret": {"name": "bus", "key": "transporter"}}
    assert values["microservices"]["presence"]["replicas"] == 2
    assert sorted(k for k in owned if k.startswith("PodDisruptionBudget/")) == [
        "PodDisruptionBudget/rocketchat-presence"
    ]


def test_network_policies_from_a_namespace_alone(recording: Recording) -> None:
    built(lambda: StackNetworkPolicies("net", {"namespace": "team"}).urn)
    owned = children(recording, "net")
    assert sorted(owned) == [
        "NetworkPolicy/rocketchat-default-deny-ingress",
        "NetworkPolicy/rocketchat-metrics",
        "NetworkPolicy/rocketchat-web",
    ], "no NATS and no MongoDB given: no rules for them"
    web = owned["NetworkPolicy/rocketchat-web"]["spec"]["ingress"][0]["from"][0]
    assert web["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}
    metrics = owned["NetworkPolicy/rocketchat-metrics"]["spec"]["ingress"][0]["from"][0]
    assert metrics["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}


def test_network_policies_guard_exactly_the_nats_and_mongodb_pods_they_are_given(recording: Recording) -> None:
    nats, mongo = {"app": "bus"}, {"app": "db"}
    built(lambda: StackNetworkPolicies("net", {"namespace": "team", "nats_pods": nats, "mongo_pods": mongo}).urn)
    owned = children(recording, "net")
    nats_spec = owned["NetworkPolicy/rocketchat-nats"]["spec"]
    assert nats_spec["podSelector"] == {"matchLabels": nats}
    mongo_spec = owned["NetworkPolicy/rocketchat-mongodb"]["spec"]
    assert mongo_spec["podSelector"] == {"matchLabels": mongo}
    [rule] = mongo_spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 27017}]
    assert rule["from"][1] == {"podSelector": {"matchLabels": mongo}}, "the members replicate to each other"


def test_network_policies_of_another_instance_are_named_and_labelled_for_it(recording: Recording) -> None:
    """A second workspace in the namespace gets policies of its own: named, labelled and selecting by its instance."""
    args = {"namespace": "team", "instance": "team-b", "ingress_namespace": "edge", "monitoring_namespace": "obs"}
    built(lambda: StackNetworkPolicies("net", args).urn)
    owned = children(recording, "net")
    assert sorted(owned) == [
        "NetworkPolicy/team-b-default-deny-ingress",
        "NetworkPolicy/team-b-metrics",
        "NetworkPolicy/team-b-web",
    ]
    for policy in owned.values():
        labels = policy["metadata"]["labels"]
        assert (labels["app.kubernetes.io/instance"], labels["app.kubernetes.io/name"]) == ("team-b", "rocketchat")
        assert labels["app.kubernetes.io/component"] == "network-policy"
    for name in ("team-b-web", "team-b-metrics"):
        assert (
            owned[f"NetworkPolicy/{name}"]["spec"]["podSelector"]["matchLabels"]["rocketchat.chat/instance"] == "team-b"
        )
    # The controller's namespace reaches the web port alone; the monitoring namespace the metrics ports alone.
    [web] = owned["NetworkPolicy/team-b-web"]["spec"]["ingress"]
    assert web["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}}]
    assert web["ports"] == [{"protocol": "TCP", "port": 3000}]
    [metrics] = owned["NetworkPolicy/team-b-metrics"]["spec"]["ingress"]
    assert metrics["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "obs"}}}]
    assert {p["port"] for p in metrics["ports"]} == {9100, 9458}  # the monolith's and the services' metrics


def test_a_whole_stack_from_the_required_args_and_a_database(recording: Recording) -> None:
    def make() -> Any:
        stack = RocketChatStack(
            "chat", {"mode": "raw", "host": "chat.team.example", "version": "8.6.1", "mongodb": {"in_cluster": {}}}
        )
        return [stack.url, stack.replicas, stack.namespace]

    url, replicas, namespace = built(make)
    assert (url, namespace) == ("http://chat.team.example", "rocketchat")
    assert replicas == {
        "rocketchat": 1,
        "account": 1,
        "authorization": 1,
        "presence": 1,
        "ddp-streamer": 1,
        "nats": 1,
        "mongodb": 1,
    }
    assert {"NatsCluster/nats", "MongoReplicaSet/mongodb", "MicroserviceSet/rocketchat"} <= set(
        children(recording, "chat")
    )


def test_numbers_from_another_language_arrive_as_floats_and_still_count(recording: Recording) -> None:
    """Pulumi's wire format has one number type: a YAML or TypeScript program's `replicas: 3` reaches the component
    provider as 3.0 (found by the YAML program of the e2e suite)."""

    def make() -> Any:
        stack = RocketChatStack(
            "chat",
            {
                "mode": "raw",
                "host": "chat.team.example",
                "version": "8.6.1",
                "concurrent_users": 1000.0,
                "nats": {"replicas": 3.0},
                "mongodb": {"in_cluster": {"replicas": 1.0}},
                "dns": {"ttl": 60.0},
            },
        )
        return stack.replicas

    replicas = built(make)
    assert (replicas["ddp-streamer"], replicas["nats"], replicas["mongodb"]) == (2, 3, 1)
    assert all(type(n) is int for n in replicas.values())
    nats = next(r for r in recording.resources if r.kind == "StatefulSet" and r.name == "nats")
    assert reveal(nats.inputs)["spec"]["replicas"] == 3
