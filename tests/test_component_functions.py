"""The small pure functions behind the components: NATS config, MongoDB wiring, Ingress helpers, the catalog."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from pulumi_kubernetes.networking import v1 as networking

from components.catalog import BROKER_ENV, MICROSERVICES, WORKLOADS
from components.ingress import dns_records, ingress_annotations, load_balancer_address
from components.mongodb import connection_url, membership_script
from components.nats import client_url, render_nats_config
from components.passwords import ALPHABET, _PasswordProvider, generate


def test_single_nats_node_has_client_auth_and_no_cluster_block() -> None:
    config = render_nats_config(client_password="c1", route_password="r1", routes=["nats-0.nats-headless:6222"])
    assert 'users: [{ user: "rocketchat", password: "c1" }]' in config
    assert "cluster {" not in config
    assert "http_port: 8222" in config and "port: 4222" in config
    assert "lame_duck_duration: 30s" in config and "lame_duck_grace_period: 10s" in config


def test_clustered_nats_authenticates_routes_to_every_peer() -> None:
    peers = [f"nats-{i}.nats-headless.chat.svc.cluster.local:6222" for i in range(3)]
    config = render_nats_config(client_password="c1", route_password="r1", routes=peers)
    assert "cluster {" in config and "port: 6222" in config
    assert 'user: "route"' in config and 'password: "r1"' in config
    for peer in peers:
        assert f'"nats://route:r1@{peer}"' in config


def test_client_url_embeds_credentials_and_scheme() -> None:
    assert client_url("pw", "nats.chat.svc.cluster.local") == "nats://rocketchat:pw@nats.chat.svc.cluster.local:4222"
    assert client_url("pw", "nats", scheme="monolith+nats").startswith("monolith+nats://rocketchat:pw@nats:")


def test_mongodb_url_lists_every_member_and_names_the_replica_set() -> None:
    assert connection_url("mongodb", "chat", 3) == (
        "mongodb://mongodb-0.mongodb-headless.chat.svc.cluster.local:27017,"
        "mongodb-1.mongodb-headless.chat.svc.cluster.local:27017,"
        "mongodb-2.mongodb-headless.chat.svc.cluster.local:27017/rocketchat?replicaSet=rs0"
    )
    script = membership_script("mongodb", "chat", 3)
    assert "rs.initiate({_id: replicaSet, members:" in script
    assert 'const replicaSet = "rs0";' in script
    assert '"mongodb-2.mongodb-headless.chat.svc.cluster.local:27017"]' in script
    # Only an uninitiated set is initiated: the probe runs again and again (tests/test_mongodb_members.py runs it).
    assert "NotYetInitialized" in script


def status(*entries: dict[str, str]) -> networking.outputs.IngressStatus:
    """An Ingress status as the SDK hands it over, typed, from the real engine and the test engine alike."""
    return networking.outputs.IngressStatus(
        load_balancer=networking.outputs.IngressLoadBalancerStatus(
            ingress=[networking.outputs.IngressLoadBalancerIngress(**e) for e in entries]
        )
    )


@pytest.mark.parametrize(
    ("given", "address"),
    [
        (None, None),
        (networking.outputs.IngressStatus(), None),
        (status(), None),
        (status({"ip": "198.51.100.4"}), "198.51.100.4"),
        (status({"hostname": "lb.example.net"}), "lb.example.net"),
        (status({}, {"hostname": "second.example.net"}), "second.example.net"),
    ],
)
def test_load_balancer_address_from_ingress_status(given, address) -> None:
    assert load_balancer_address(given) == address


@pytest.mark.parametrize(
    ("address", "record_type"),
    [("198.51.100.4", "A"), ("2001:db8::4", "AAAA"), ("lb.example.net", "CNAME")],
)
def test_dns_record_type_follows_the_address(address: str, record_type: str) -> None:
    assert dns_records("chat.example.com", address, 60) == [
        {"name": "chat.example.com", "type": record_type, "value": address, "ttl": 60}
    ]
    assert dns_records("chat.example.com", None, 60) == []


def test_nginx_tuning_only_for_the_nginx_class() -> None:
    nginx = ingress_annotations({"namespace": "n", "host": "h.example.com", "monolith_service": "m"})
    assert nginx["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    assert nginx["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    traefik = ingress_annotations(
        {"namespace": "n", "host": "h.example.com", "monolith_service": "m", "class_name": "traefik"}
    )
    assert not [k for k in traefik if k.startswith("nginx.")]


def test_catalog_has_every_workload_once_with_metrics_and_retry_on() -> None:
    assert [w.name for w in WORKLOADS] == [
        "rocketchat",
        "account",
        "authorization",
        "presence",
        "ddp-streamer",
        "stream-hub",
    ]
    assert all(9458 in w.metrics_ports for w in WORKLOADS)
    assert BROKER_ENV["RETRY_ENABLED"] == "true"
    # Only the monolith and ddp-streamer take traffic from outside the bus.
    assert [w.name for w in WORKLOADS if w.service] == ["rocketchat", "ddp-streamer"]
    assert [w.name for w in MICROSERVICES if w.scaling == "singleton"] == ["stream-hub"]


def test_generated_passwords_are_long_url_safe_and_different() -> None:
    first, second = generate(32), generate(32)
    assert len(first) == 32 and first != second
    assert set(first) <= set(ALPHABET) and quote(first, safe="") == first


def test_a_generated_password_is_kept_until_its_length_changes() -> None:
    provider = _PasswordProvider()
    created = provider.create({"length": 24})
    assert len(created.outs["result"]) == 24
    unchanged = provider.diff(created.id, created.outs, {"length": 24, "result": None})
    assert (unchanged.changes, unchanged.replaces) == (False, [])
    assert provider.diff(created.id, created.outs, {"length": 40, "result": None}).replaces == ["length"]
