"""RocketChatIngress: one Ingress that sends websocket traffic to ddp-streamer and everything else to the monolith."""

import ipaddress
from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.networking import v1 as networking

from components import k8s
from components.args import whole
from components.catalog import DEFAULT_INSTANCE
from components.controllers import CONTROLLERS, INGRESS_NGINX, Controller, Streaming, controller_for

# Prefix paths served by ddp-streamer; the monolith takes `/` (all the rest).
STREAMING_PATHS = ("/websocket", "/sockjs")
BACKEND_PORT_NAME = "http"
DEFAULT_CLASS = "nginx"
DEFAULT_DNS_TTL = 300

# ingress-nginx's cookie affinity, the annotations sticky sessions add to its tuning (components/controllers.py).
NGINX_STICKY_ANNOTATIONS = {
    key: value
    for key, value in INGRESS_NGINX.ingress_annotations(True, Streaming("")).items()
    if key not in INGRESS_NGINX.ingress_annotations(False, Streaming(""))
}


class RocketChatIngressArgs(TypedDict):
    namespace: pulumi.Input[str]
    host: str
    monolith_service: pulumi.Input[str]
    """The Service in front of the monolith (port named `http`): everything but the streaming paths goes there."""
    ddp_streamer_service: NotRequired[pulumi.Input[str]]
    """The Service in front of ddp-streamer (port `http`); without one (a monolith alone), all goes to the monolith."""
    class_name: NotRequired[str]
    """The IngressClass (default `nginx`)."""
    controller: NotRequired[str]
    """Which controller serves the class (a key of components/controllers.py's CONTROLLERS): its websocket timeouts,
    body size and (with `sticky_sessions`) cookie affinity. Default: the controller the class name usually means;
    none for a class it does not know (then nothing is tuned)."""
    tls_secret_name: NotRequired[str]
    cluster_issuer: NotRequired[str]
    """cert-manager's ClusterIssuer; with no `tls_secret_name`, cert-manager fills `<name>-tls`."""
    sticky_sessions: NotRequired[bool]
    annotations: NotRequired[dict[str, str]]
    """The user's own annotations, laid over the ones this component sets."""
    external_dns_prefix: NotRequired[str]
    """Annotate for external-dns (e.g. `external-dns.alpha.kubernetes.io/`); unset leaves DNS to the stack outputs."""
    dns_ttl: NotRequired[int]
    skip_await: NotRequired[bool]
    instance: NotRequired[str]


def ingress_controller(class_name: str, given: str | None = None) -> Controller | None:
    """The controller named, else the one the class name usually means (None: a class nobody here knows)."""
    return CONTROLLERS[given] if given else controller_for(class_name)


def streaming(args: RocketChatIngressArgs, monolith: str, ddp_streamer: str | None) -> Streaming:
    """Where the websockets go: ddp-streamer's streaming paths, or the monolith's only path when it runs alone."""
    return Streaming(ddp_streamer) if ddp_streamer is not None else Streaming(monolith, ("/",))


def ingress_annotations(
    args: RocketChatIngressArgs, monolith: str = "", ddp_streamer: str | None = None
) -> dict[str, str]:
    """Controller tuning first, then cert-manager and external-dns, then the user's own (which win)."""
    annotations: dict[str, str] = {}
    if controller := ingress_controller(args.get("class_name", DEFAULT_CLASS), args.get("controller")):
        annotations |= controller.ingress_annotations(
            args.get("sticky_sessions", True), streaming(args, monolith, ddp_streamer)
        )
    if args.get("cluster_issuer"):
        annotations["cert-manager.io/cluster-issuer"] = args["cluster_issuer"]
    if prefix := args.get("external_dns_prefix"):
        annotations[f"{prefix}hostname"] = args["host"]
        annotations[f"{prefix}ttl"] = str(whole(args.get("dns_ttl", DEFAULT_DNS_TTL)))
    if args.get("skip_await"):
        annotations["pulumi.com/skipAwait"] = "true"
    return annotations | dict(args.get("annotations") or {})


def tls_secret_name(args: RocketChatIngressArgs, name: str) -> str | None:
    """The Secret holding the certificate: the given one, or one cert-manager fills for the cluster issuer."""
    if args.get("tls_secret_name"):
        return args["tls_secret_name"]
    return f"{name}-tls" if args.get("cluster_issuer") else None


def load_balancer_address(status: networking.outputs.IngressStatus | None) -> str | None:
    """The first IP or hostname the ingress controller published in the Ingress status, if any yet."""
    entries = (status.load_balancer.ingress if status and status.load_balancer else None) or []
    return next((entry.ip or entry.hostname for entry in entries if entry.ip or entry.hostname), None)


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
    """One Ingress for the host: `/websocket` and `/sockjs` to ddp-streamer, everything else to the monolith."""

    address: pulumi.Output[str]
    """The load balancer's IP or host name once the controller publishes one; "" until then."""
    name: pulumi.Output[str]
    """The Ingress's name."""

    def __init__(self, name: str, args: RocketChatIngressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:RocketChatIngress", name, None, opts)

        def backend(service: pulumi.Input[str]) -> networking.IngressBackendArgs:
            return networking.IngressBackendArgs(
                service=networking.IngressServiceBackendArgs(
                    name=service, port=networking.ServiceBackendPortArgs(name=BACKEND_PORT_NAME)
                )
            )

        paths = []
        if args.get("ddp_streamer_service") is not None:
            paths += [
                networking.HTTPIngressPathArgs(
                    path=p, path_type="Prefix", backend=backend(args["ddp_streamer_service"])
                )
                for p in STREAMING_PATHS
            ]
        paths.append(
            networking.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend(args["monolith_service"]))
        )

        host = args["host"]
        secret_name = tls_secret_name(args, name)
        selector = k8s.labels("rocketchat", "ingress", args.get("instance", DEFAULT_INSTANCE))
        ingress = networking.Ingress(
            name,
            metadata=k8s.metadata(
                name,
                args["namespace"],
                k8s.object_labels(selector),
                # Some controllers name the websocket Service in their annotations: known once the names are.
                annotations=pulumi.Output.all(args["monolith_service"], args.get("ddp_streamer_service")).apply(
                    lambda services: ingress_annotations(args, services[0], services[1])
                ),
            ),
            spec=networking.IngressSpecArgs(
                ingress_class_name=args.get("class_name", DEFAULT_CLASS),
                rules=[networking.IngressRuleArgs(host=host, http=networking.HTTPIngressRuleValueArgs(paths=paths))],
                tls=[networking.IngressTLSArgs(hosts=[host], secret_name=secret_name)] if secret_name else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = ingress.metadata.name
        # "" rather than None: the engine drops a stack output whose value is null.
        self.address = ingress.status.apply(lambda status: load_balancer_address(status) or "")
        self.register_outputs({"address": self.address, "name": self.name})
