"""Traffic on the Gateway API: the stack's HTTPRoute, the Ingress beside it or not, the outputs DNS follows."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.gateway import RocketChatRoute, gateway_address, route_rules
from tools.engine import Recording, reveal, run_program

PUBLIC = {"rocketchat:gateway": {"parentRefs": [{"name": "public", "namespace": "gateways", "sectionName": "https"}]}}
ADDRESS = {"addresses": [{"type": "IPAddress", "value": "192.0.2.40"}]}
INGRESS_STATUS = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}


def route(recording: Recording) -> dict[str, Any]:
    (found,) = recording.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
    return reveal(found.inputs)


def test_the_route_sends_streaming_paths_to_ddp_streamer_without_a_request_timeout() -> None:
    spec = route(run_program("prod", {**PUBLIC, "rocketchat:mode": "raw"}))["spec"]
    assert spec["hostnames"] == ["chat.example.com"]
    assert spec["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "public",
            "namespace": "gateways",
            "sectionName": "https",
        }
    ]
    streaming, rest = spec["rules"]
    assert [m["path"] for m in streaming["matches"]] == [
        {"type": "PathPrefix", "value": "/websocket"},
        {"type": "PathPrefix", "value": "/sockjs"},
    ]
    assert streaming["backendRefs"] == [{"name": "rocketchat-ddp-streamer", "port": 3000}]
    assert streaming["timeouts"] == {"request": "0s"}
    assert "sessionPersistence" not in streaming  # an experimental-channel field: only when asked
    assert rest == {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [{"name": "rocketchat-rocketchat", "port": 80}],
    }


def test_helm_mode_routes_to_the_charts_services() -> None:
    spec = route(run_program("prod", PUBLIC))["spec"]
    assert [r["backendRefs"][0]["name"] for r in spec["rules"]] == ["rocketchat-ddp-streamer", "rocketchat-rocketchat"]


def test_a_monolith_alone_gets_everything_on_one_rule() -> None:
    rules = route_rules("web", None, session_persistence=True)
    assert rules == [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": "web", "port": 80}]}
    ]


def test_session_persistence_is_a_cookie_on_the_streaming_rule_when_asked() -> None:
    streaming = route_rules("web", "ddp", session_persistence=True)[0]
    assert streaming["sessionPersistence"] == {"type": "Cookie", "sessionName": "rc_affinity"}


def test_with_a_gateway_there_is_no_ingress_and_dns_follows_the_gateway() -> None:
    recording = run_program("prod", PUBLIC, gateway_status=ADDRESS, ingress_status=INGRESS_STATUS)
    assert recording.of_type("Ingress") == []
    outputs = recording.outputs
    assert outputs["servedBy"] == "gateway"
    assert outputs["gatewayAddress"] == "192.0.2.40" and outputs["ingressAddress"] == ""
    assert outputs["dnsRecords"] == [{"name": "chat.example.com", "type": "A", "value": "192.0.2.40", "ttl": 300}]
    assert outputs["url"] == "https://chat.example.com"


def test_both_published_while_dns_moves_then_the_ingress_removed() -> None:
    both = {**PUBLIC, "rocketchat:ingress": {"enabled": True, "className": "nginx"}}
    moving = run_program("prod", both, gateway_status=ADDRESS, ingress_status=INGRESS_STATUS)
    assert len(moving.of_type("Ingress")) == 1 and route(moving)
    assert moving.outputs["ingressAddress"] == "192.0.2.10"
    assert moving.outputs["dnsRecords"][0]["value"] == "192.0.2.40"
    # Until the gateway has an address, DNS automation is given nothing to move to.
    assert run_program("prod", both, ingress_status=INGRESS_STATUS).outputs["dnsRecords"] == []


def test_without_a_gateway_nothing_changes() -> None:
    recording = run_program("prod", ingress_status=INGRESS_STATUS)
    assert recording.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute") == []
    assert recording.outputs["servedBy"] == "ingress"
    assert recording.outputs["gatewayAddress"] == ""
    assert recording.outputs["dnsRecords"][0]["value"] == "192.0.2.10"


def web_sources(recording: Recording) -> list[str]:
    (web,) = [r for r in recording.of_type("NetworkPolicy") if r.k8s_name.endswith("-web")]
    rule = reveal(web.inputs)["spec"]["ingress"][0]
    return [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in rule["from"]]


def test_the_gateways_proxies_may_reach_the_web_pods() -> None:
    assert web_sources(run_program("prod", PUBLIC)) == ["ingress-nginx", "gateways"]
    moved = {"rocketchat:gateway": {**PUBLIC["rocketchat:gateway"], "controllerNamespace": "envoy-gateway-system"}}
    assert web_sources(run_program("prod", moved)) == ["ingress-nginx", "envoy-gateway-system"]
    assert web_sources(run_program("prod")) == ["ingress-nginx"]


def test_the_gateway_is_only_read() -> None:
    recording = run_program("prod", PUBLIC, gateway_status=ADDRESS)
    (gateway,) = recording.of_type("kubernetes:gateway.networking.k8s.io/v1:Gateway")
    assert gateway.read


@pytest.mark.parametrize(
    ("status", "address"),
    [
        (None, ""),
        ({"addresses": []}, ""),
        ({"addresses": [{"type": "Hostname", "value": "lb.example.net"}]}, "lb.example.net"),
        ({"addresses": [{"value": ""}, {"type": "IPAddress", "value": "2001:db8::1"}]}, "2001:db8::1"),
    ],
)
def test_the_gateway_address_is_its_first_published_one(status: Any, address: str) -> None:
    assert gateway_address(status) == address


# --- the component alone, in Pulumi's test style ---------------------------------------------------------------
@pulumi.runtime.test
def test_the_route_alone_in_another_program(recording: Recording) -> Any:
    made = RocketChatRoute(
        "chat",
        {
            "namespace": "team",
            "host": "chat.team.example",
            "parent_refs": [{"name": "edge"}],
            "monolith_service": "web",
        },
    )

    def check(name: str) -> None:
        (found,) = recording.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
        assert name == "chat"
        assert reveal(found.inputs)["metadata"]["namespace"] == "team"

    return made.name.apply(check)


def test_a_route_without_a_gateway_is_refused(recording: Recording) -> None:
    with pytest.raises(ValueError, match="parent_refs"):
        RocketChatRoute("chat", {"namespace": "t", "host": "h.example", "parent_refs": [], "monolith_service": "w"})
