"""RocketChatRoute: a Gateway API HTTPRoute for the host, on Gateways a platform team owns.

The Gateway API says what Rocket.Chat needs in the route itself where the API can say it (Gateway API v1.6):
- `/websocket` and `/sockjs` go to ddp-streamer with the request timeout off (`timeouts.request: 0s`, standard
  channel, "Support: Extended"): a websocket is one request that lasts as long as the user stays, and a gateway's
  request timeout would cut it. Idle timeouts are not in the API: each implementation sets them its own way
  (docs/ingress-controllers.md).
- SockJS/XHR fallbacks poll, and each poll must reach the same ddp-streamer pod: `sessionPersistence` (a cookie) on
  the streaming rule. It is in the experimental channel only: with the standard channel's CRDs the API server prunes
  the field, so it is written only when asked (`session_persistence`).
TLS belongs to the Gateway's listeners (cert-manager's Gateway support issues their certificates), not to the route.
"""

from importlib.metadata import version
from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource

from components import k8s
from components.args import whole
from components.catalog import DDP_STREAMER, DEFAULT_INSTANCE, MONOLITH
from components.ingress import DEFAULT_DNS_TTL, STREAMING_PATHS

GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_GROUP = "gateway.networking.k8s.io"
SESSION_COOKIE = "rc_affinity"
WEBSOCKET_REQUEST_TIMEOUT = "0s"
"""The API's own spelling of "no request timeout" (HTTPRouteTimeouts: the zero duration SHOULD disable it)."""


class ParentRefArgs(TypedDict):
    name: str
    """A Gateway."""
    namespace: NotRequired[str]
    """Its namespace (default: the route's)."""
    section_name: NotRequired[str]
    """One listener of it (default: every listener that admits the route)."""


class RocketChatRouteArgs(TypedDict):
    namespace: pulumi.Input[str]
    host: str
    parent_refs: list[ParentRefArgs]
    """The Gateways (a platform team's) the route attaches to; the first one's address is the route's `address`."""
    monolith_service: pulumi.Input[str]
    """The Service in front of the monolith (port 80): everything but the streaming paths goes there."""
    ddp_streamer_service: NotRequired[pulumi.Input[str]]
    """The Service in front of ddp-streamer (port 3000); without one (a monolith alone), all goes to the monolith."""
    session_persistence: NotRequired[bool]
    """A cookie keeps SockJS/XHR fallbacks on one ddp-streamer pod (experimental channel CRDs)."""
    external_dns_prefix: NotRequired[str]
    """Annotate the route for external-dns's `gateway-httproute` source (its TTL; the host comes from the route)."""
    dns_ttl: NotRequired[int]
    instance: NotRequired[str]


def parent_ref(ref: ParentRefArgs) -> dict[str, Any]:
    given = {"group": GATEWAY_GROUP, "kind": "Gateway", "name": ref["name"]}
    if ref.get("namespace"):
        given["namespace"] = ref["namespace"]
    if ref.get("section_name"):
        given["sectionName"] = ref["section_name"]
    return given


def route_rules(
    monolith_service: Any, ddp_streamer_service: Any | None, session_persistence: bool
) -> list[dict[str, Any]]:
    """Streaming paths to ddp-streamer (timeout off, optionally sticky), the rest to the monolith."""
    rules = []
    if ddp_streamer_service is not None:
        streaming: dict[str, Any] = {
            "matches": [{"path": {"type": "PathPrefix", "value": path}} for path in STREAMING_PATHS],
            "backendRefs": [{"name": ddp_streamer_service, "port": DDP_STREAMER.service.port}],
            "timeouts": {"request": WEBSOCKET_REQUEST_TIMEOUT},
        }
        if session_persistence:
            # A session cookie (the API's default lifetime): implementations that support only those (Cilium) accept
            # the route, where a permanent cookie with an absolute timeout would be refused.
            streaming["sessionPersistence"] = {"type": "Cookie", "sessionName": SESSION_COOKIE}
        rules.append(streaming)
    rules.append(
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"name": monolith_service, "port": MONOLITH.service.port}],
        }
    )
    return rules


def gateway_address(status: Any) -> str:
    """The first address the Gateway published (an IP or a host name); "" until it has one."""
    for address in (status or {}).get("addresses") or []:
        if address.get("value"):
            return str(address["value"])
    return ""


class GatewayStatus(pulumi.CustomResource):
    """A Gateway someone else owns, read (never changed): its status holds the addresses it serves on."""

    status: pulumi.Output[Any]

    def __init__(self, name: str, gateway_id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            f"kubernetes:{GATEWAY_API}:Gateway",
            name,
            {"apiVersion": None, "kind": None, "metadata": None, "spec": None, "status": None},
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(id=gateway_id, version=version("pulumi_kubernetes"))
            ),
        )


class RocketChatRoute(pulumi.ComponentResource):
    """One HTTPRoute for the host: `/websocket` and `/sockjs` to ddp-streamer, everything else to the monolith."""

    address: pulumi.Output[str]
    """The first parent Gateway's address once it publishes one; "" until then."""
    name: pulumi.Output[str]
    """The HTTPRoute's name."""

    def __init__(self, name: str, args: RocketChatRouteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not args.get("parent_refs"):
            raise ValueError("RocketChatRoute: give at least one Gateway in parent_refs")
        super().__init__("rocketchat:index:RocketChatRoute", name, None, opts)
        selector = k8s.labels("rocketchat", "route", args.get("instance", DEFAULT_INSTANCE))
        annotations: dict[str, str] = {}
        if prefix := args.get("external_dns_prefix"):
            annotations[f"{prefix}ttl"] = str(whole(args.get("dns_ttl", DEFAULT_DNS_TTL)))
        route = CustomResource(
            name,
            api_version=GATEWAY_API,
            kind="HTTPRoute",
            metadata=k8s.metadata(name, args["namespace"], k8s.object_labels(selector), annotations or None),
            spec={
                "parentRefs": [parent_ref(ref) for ref in args["parent_refs"]],
                "hostnames": [args["host"]],
                "rules": route_rules(
                    args["monolith_service"], args.get("ddp_streamer_service"), args.get("session_persistence", False)
                ),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The address DNS should point at: the first parent's, read anew on every update (and `up --refresh`).
        first = args["parent_refs"][0]
        gateway_ns = pulumi.Output.from_input(first.get("namespace") or args["namespace"])
        gateway = GatewayStatus(
            f"{name}-gateway",
            gateway_ns.apply(lambda ns: f"{ns}/{first['name']}"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[route]),
        )
        self.name = route.metadata.apply(lambda metadata: metadata["name"])
        self.address = gateway.status.apply(gateway_address)
        self.register_outputs({"address": self.address, "name": self.name})
