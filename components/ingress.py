"""RocketChatIngress: one Ingress that sends websocket traffic to ddp-streamer and everything else to the monolith."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_kubernetes.networking import v1 as networking

from components import k8s

# Prefix paths served by ddp-streamer; the monolith takes `/` (all the rest).
STREAMING_PATHS = ("/websocket", "/sockjs")
BACKEND_PORT_NAME = "http"

# ingress-nginx closes idle upstream connections after 60 s by default, which drops every quiet websocket.
NGINX_WEBSOCKET_ANNOTATIONS = {
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
    "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
    "nginx.ingress.kubernetes.io/proxy-body-size": "100m",
}
# SockJS/XHR fallbacks poll: keep a browser on one ddp-streamer pod (ingress-nginx bypasses Service affinity).
NGINX_STICKY_ANNOTATIONS = {
    "nginx.ingress.kubernetes.io/affinity": "cookie",
    "nginx.ingress.kubernetes.io/session-cookie-name": "rc_affinity",
    "nginx.ingress.kubernetes.io/session-cookie-max-age": "10800",
}


@dataclass
class RocketChatIngressArgs:
    namespace: pulumi.Input[str]
    host: str
    monolith_service: pulumi.Input[str]
    ddp_streamer_service: pulumi.Input[str] | None = None
    """None in monolith-only mode: `/` alone, to the monolith."""
    class_name: str = "nginx"
    tls_secret_name: str | None = None
    cluster_issuer: str | None = None
    sticky_sessions: bool = True
    annotations: dict[str, str] = field(default_factory=dict)
    external_dns_prefix: str | None = None
    """Annotate for external-dns (e.g. `external-dns.alpha.kubernetes.io/`); None leaves DNS to the stack outputs."""
    dns_ttl: int = 300
    skip_await: bool = False
    instance: str = "rocketchat"


def ingress_annotations(args: RocketChatIngressArgs) -> dict[str, str]:
    """Controller tuning first, then cert-manager and external-dns, then the user's own (which win)."""
    annotations: dict[str, str] = {}
    if args.class_name == "nginx":
        annotations |= NGINX_WEBSOCKET_ANNOTATIONS
        if args.sticky_sessions:
            annotations |= NGINX_STICKY_ANNOTATIONS
    if args.cluster_issuer:
        annotations["cert-manager.io/cluster-issuer"] = args.cluster_issuer
    if args.external_dns_prefix:
        annotations[f"{args.external_dns_prefix}hostname"] = args.host
        annotations[f"{args.external_dns_prefix}ttl"] = str(args.dns_ttl)
    if args.skip_await:
        annotations["pulumi.com/skipAwait"] = "true"
    return annotations | args.annotations


def tls_secret_name(args: RocketChatIngressArgs, name: str) -> str | None:
    """The Secret holding the certificate: the given one, or one cert-manager fills for the cluster issuer."""
    if args.tls_secret_name:
        return args.tls_secret_name
    return f"{name}-tls" if args.cluster_issuer else None


def load_balancer_address(status: Any) -> str | None:
    """The first IP or hostname the ingress controller published in the Ingress status, if any yet."""
    entries = ((status or {}).get("load_balancer") or (status or {}).get("loadBalancer") or {}).get("ingress") or []
    for entry in entries:
        address = entry.get("ip") or entry.get("hostname")
        if address:
            return address
    return None


def dns_records(host: str, address: str | None, ttl: int) -> list[dict[str, Any]]:
    """The record DNS automation should publish for `host`: A for IPv4, AAAA for IPv6, CNAME for a hostname."""
    if not address:
        return []
    try:
        record_type = "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
    except ValueError:
        record_type = "CNAME"
    return [{"name": host, "type": record_type, "value": address, "ttl": ttl}]


class RocketChatIngress(pulumi.ComponentResource):
    """Outputs: `address` (load-balancer IP or hostname, None until the controller publishes one), `name`."""

    address: pulumi.Output[str | None]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: RocketChatIngressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:RocketChatIngress", name, None, opts)

        def backend(service: pulumi.Input[str]) -> networking.IngressBackendArgs:
            return networking.IngressBackendArgs(
                service=networking.IngressServiceBackendArgs(
                    name=service, port=networking.ServiceBackendPortArgs(name=BACKEND_PORT_NAME)
                )
            )

        paths = []
        if args.ddp_streamer_service is not None:
            paths += [
                networking.HTTPIngressPathArgs(path=p, path_type="Prefix", backend=backend(args.ddp_streamer_service))
                for p in STREAMING_PATHS
            ]
        paths.append(
            networking.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend(args.monolith_service))
        )

        secret_name = tls_secret_name(args, name)
        selector = k8s.labels("rocketchat", "ingress", args.instance)
        ingress = networking.Ingress(
            name,
            metadata=k8s.metadata(
                name, args.namespace, k8s.object_labels(selector), annotations=ingress_annotations(args)
            ),
            spec=networking.IngressSpecArgs(
                ingress_class_name=args.class_name,
                rules=[
                    networking.IngressRuleArgs(host=args.host, http=networking.HTTPIngressRuleValueArgs(paths=paths))
                ],
                tls=[networking.IngressTLSArgs(hosts=[args.host], secret_name=secret_name)] if secret_name else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = ingress.metadata.name
        self.address = ingress.status.apply(lambda s: load_balancer_address(_plain(s)))
        self.register_outputs({"address": self.address, "name": self.name})


def _plain(value: Any) -> Any:
    """Output values arrive as typed objects under the engine and as dicts under mocks; normalise to dicts."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
