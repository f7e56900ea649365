"""What each common Ingress controller needs to be told so Rocket.Chat works behind it, as data.

Rocket.Chat asks two things of whatever carries its traffic: websockets on `/websocket` and `/sockjs` must not be cut
by an idle or read timeout (a quiet one may stay open for an hour), and SockJS/XHR fallback clients must keep reaching
the same ddp-streamer pod (a cookie). Uploads reach 100 MiB. ingress-nginx is retired (maintenance ended March 2026)
and every controller spells these differently: some on the Ingress, some on the backend Service, some only in the
controller's own static configuration, some not at all. This module says which, per controller, with the page or
repository file each fact was read in (`sources`); docs/ingress-controllers.md is the same in prose.

Pure data and pure functions: no Pulumi, no I/O. Service names are plain strings here; a caller holding Pulumi
Outputs resolves them first (`Output.apply`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

STREAMING_PATHS = ("/websocket", "/sockjs")
"""The Ingress paths served by ddp-streamer (as components/ingress.py routes them)."""
COOKIE_NAME = "rc_affinity"
"""The affinity cookie's name, the same for every controller (and for the Gateway API route)."""
COOKIE_MAX_AGE_SECONDS = 10800
"""3 h: a SockJS session outlives neither the cookie nor the Ingress's ingress-nginx affinity before it."""
WEBSOCKET_TIMEOUT_SECONDS = 3600
"""How long a websocket may stay quiet: an hour."""
BODY_SIZE = "100m"
"""The largest upload, in nginx's size syntax (100 MiB)."""


@dataclass(frozen=True)
class Streaming:
    """Where websocket traffic goes: the Service behind the streaming paths, and those paths on the Ingress.

    With ddp-streamer: its Service and `STREAMING_PATHS`. A monolith alone serves websockets itself, on the Ingress's
    only path: `Streaming(service=<monolith>, paths=("/",))`.
    """

    service: str
    paths: tuple[str, ...] = STREAMING_PATHS


IngressAnnotations = Callable[[bool, Streaming], dict[str, str]]
ServiceAnnotations = Callable[[bool], dict[str, str]]


def no_ingress_annotations(sticky: bool, streaming: Streaming) -> dict[str, str]:
    """Nothing to say on the Ingress (the controller needs nothing there, or reads nothing there)."""
    return {}


def no_service_annotations(sticky: bool) -> dict[str, str]:
    """Nothing to say on the Service."""
    return {}


@dataclass(frozen=True)
class Controller:
    """One Ingress controller: what the program writes for it, and what the operator must set in the controller."""

    key: str
    """The name the stack config uses for it."""
    class_names: tuple[str, ...]
    """IngressClass names it is usually installed under (its Helm chart's or binary's default first)."""
    prefixes: tuple[str, ...]
    """The annotation prefixes it owns (and the only ones its annotations here use)."""
    ingress: IngressAnnotations
    service: ServiceAnnotations
    notes: tuple[str, ...]
    """What the program cannot set: the controller's own configuration the operator must change, and limits."""
    sources: tuple[str, ...]
    """Where each annotation and note was read: the controller's documentation or its repository."""

    def ingress_annotations(self, sticky: bool, streaming: Streaming) -> dict[str, str]:
        """Annotations for the Ingress: websocket-safe timeouts, body size, and (with `sticky`) cookie affinity."""
        return self.ingress(sticky, streaming)

    def service_annotations(self, sticky: bool) -> dict[str, str]:
        """Annotations for the Service behind the streaming paths, for controllers that read them there."""
        return self.service(sticky)


# --- ingress-nginx -------------------------------------------------------------------------------------------------


def ingress_nginx_ingress(sticky: bool, streaming: Streaming) -> dict[str, str]:
    """Timeouts are between two reads/writes (60 s by default), unitless seconds; affinity covers every upstream."""
    annotations = {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": str(WEBSOCKET_TIMEOUT_SECONDS),
        "nginx.ingress.kubernetes.io/proxy-send-timeout": str(WEBSOCKET_TIMEOUT_SECONDS),
        "nginx.ingress.kubernetes.io/proxy-body-size": BODY_SIZE,
    }
    if sticky:
        annotations |= {
            "nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/session-cookie-name": COOKIE_NAME,
            "nginx.ingress.kubernetes.io/session-cookie-max-age": str(COOKIE_MAX_AGE_SECONDS),
        }
    return annotations


INGRESS_NGINX = Controller(
    key="ingress-nginx",
    class_names=("nginx",),
    prefixes=("nginx.ingress.kubernetes.io/",),
    ingress=ingress_nginx_ingress,
    service=no_service_annotations,
    notes=(
        "Retired: best-effort maintenance ended in March 2026 (README of kubernetes/ingress-nginx).",
        "Websockets need no switch, only proxy-read-timeout/proxy-send-timeout above the 60 s default.",
        (
            "Traefik's kubernetesIngressNGINX provider also serves class `nginx` and reads these six annotations "
            "(affinity in persistent mode only), so they carry over to it unchanged."
        ),
    ),
    sources=(
        (
            "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/"
            " (kubernetes/ingress-nginx docs/user-guide/nginx-configuration/annotations.md: #session-affinity,"
            " #cookie-affinity, #custom-timeouts, #custom-max-body-size)"
        ),
        "kubernetes/ingress-nginx docs/user-guide/miscellaneous.md (Websockets: 60 s default, raise to 3600)",
        "https://kubernetes.github.io/ingress-nginx/examples/affinity/cookie/",
        (
            "kubernetes/ingress-nginx internal/ingress/annotations/proxy/main.go (proxy-read-timeout,"
            " proxy-send-timeout, proxy-body-size)"
        ),
        (
            "kubernetes/ingress-nginx charts/ingress-nginx/values.yaml (controller.ingressClassResource.name: nginx,"
            " controllerValue: k8s.io/ingress-nginx)"
        ),
    ),
)


# --- F5 NGINX Ingress Controller -----------------------------------------------------------------------------------


def f5_nginx_ingress(sticky: bool, streaming: Streaming) -> dict[str, str]:
    """Websockets only for the Services named in `websocket-services`; the sticky cookie is set per Service too."""
    annotations = {
        "nginx.org/websocket-services": streaming.service,
        "nginx.org/proxy-read-timeout": f"{WEBSOCKET_TIMEOUT_SECONDS}s",
        "nginx.org/proxy-send-timeout": f"{WEBSOCKET_TIMEOUT_SECONDS}s",
        "nginx.org/client-max-body-size": BODY_SIZE,
    }
    if sticky:
        annotations["nginx.org/sticky-cookie-services"] = (
            f"serviceName={streaming.service} {COOKIE_NAME} expires={COOKIE_MAX_AGE_SECONDS}s path=/"
        )
    return annotations


F5_NGINX = Controller(
    key="f5-nginx",
    class_names=("nginx",),
    prefixes=("nginx.org/",),
    ingress=f5_nginx_ingress,
    service=no_service_annotations,
    notes=(
        (
            "Its default IngressClass is `nginx` too (Helm controller.ingressClass.name, flag -ingress-class), but its "
            "IngressClass controller is nginx.org/ingress-controller (ingress-nginx's: k8s.io/ingress-nginx). The "
            "program maps class `nginx` to ingress-nginx (today's behaviour); choose `f5-nginx` explicitly."
        ),
        "Websockets are off unless the backend Service is listed in nginx.org/websocket-services.",
        (
            "nginx.org/sticky-cookie-services works with NGINX open source since NGINX 1.29.6 (NGINX Ingress "
            "Controller 5.4.0 and later); older releases have it only with NGINX Plus, as "
            "nginx.com/sticky-cookie-services."
        ),
        "Timeouts and sizes use NGINX units (3600s, 100m); the defaults are 60s and 1m.",
    ),
    sources=(
        (
            "https://docs.nginx.com/nginx-ingress-controller/configuration/ingress-resources/"
            "advanced-configuration-with-annotations/ (nginx/documentation content/nic/configuration/ingress-resources/"
            "advanced-configuration-with-annotations.md)"
        ),
        (
            "https://docs.nginx.com/nginx-ingress-controller/install/migrate-ingress-nginx/"
            " (content/nic/install/migrate-ingress-nginx.md: affinity -> sticky-cookie-services)"
        ),
        "nginx/kubernetes-ingress examples/ingress-resources/websocket/README.md",
        "nginx/kubernetes-ingress examples/ingress-resources/session-persistence/README.md",
        (
            "nginx/kubernetes-ingress internal/configs/annotations.go and internal/k8s/validation.go (annotation "
            "names, time and size validation)"
        ),
        (
            "nginx/kubernetes-ingress charts/nginx-ingress/values.yaml (controller.ingressClass.name: nginx),"
            " cmd/nginx-ingress/flags.go (-ingress-class default nginx),"
            " charts/nginx-ingress/templates/controller-ingress-class.yaml (controller: nginx.org/ingress-controller)"
        ),
    ),
)


# --- Traefik -------------------------------------------------------------------------------------------------------


def traefik_service(sticky: bool) -> dict[str, str]:
    """Traefik's Kubernetes Ingress provider reads stickiness from the backend Service's annotations."""
    if not sticky:
        return {}
    return {
        "traefik.ingress.kubernetes.io/service.sticky.cookie": "true",
        "traefik.ingress.kubernetes.io/service.sticky.cookie.name": COOKIE_NAME,
        "traefik.ingress.kubernetes.io/service.sticky.cookie.maxage": str(COOKIE_MAX_AGE_SECONDS),
    }


TRAEFIK = Controller(
    key="traefik",
    class_names=("traefik",),
    prefixes=("traefik.ingress.kubernetes.io/",),
    ingress=no_ingress_annotations,
    service=traefik_service,
    notes=(
        (
            "Websockets need no annotation. No Ingress or Service annotation sets a timeout: the entryPoint's "
            "transport.respondingTimeouts (readTimeout 60s, writeTimeout 0s, idleTimeout 180s by default) are static "
            "(install) configuration."
        ),
        (
            "readTimeout bounds reading a whole request, body included: raise it on the entryPoint (e.g. "
            "--entryPoints.websecure.transport.respondingTimeouts.readTimeout=3600s) if 100 MiB uploads may take "
            "longer than 60 s. (Go's HTTP server clears the connection's deadlines when a websocket takes it over, so "
            "readTimeout should not cut an open websocket: read in the code, not stated in the docs.)"
        ),
        "No request body limit by default: only a Buffering middleware (maxRequestBodyBytes, 0 = unlimited) sets one.",
        (
            "The sticky annotations go on the Service behind the streaming paths (ddp-streamer), not on the Ingress. "
            "sticky.cookie.maxage exists since Traefik v3.0; the cookie path defaults to /."
        ),
        (
            "Alternative: Traefik's kubernetesIngressNGINX provider serves class `nginx` and reads the ingress-nginx "
            "annotations (key `ingress-nginx`)."
        ),
    ),
    sources=(
        "traefik/traefik docs/content/reference/routing-configuration/kubernetes/ingress.md (Annotations: On Service)",
        "traefik/traefik docs/content/reference/install-configuration/entrypoints.md (transport.respondingTimeouts)",
        (
            "traefik/traefik docs/content/reference/install-configuration/providers/kubernetes/kubernetes-ingress.md"
            " (ingressClass: `traefik` by default)"
        ),
        "traefik/traefik docs/content/reference/routing-configuration/http/middlewares/buffering.md",
        "traefik/traefik docs/content/expose/overview.md (WebSocket: out of the box)",
        (
            "traefik/traefik pkg/provider/kubernetes/ingress/annotations.go, kubernetes.go (parseServiceConfig("
            "service.Annotations); traefikDefaultIngressClass = traefik)"
        ),
        "traefik/traefik pkg/config/dynamic/http_config.go (Cookie.MaxAge, Path default /; MaxAge since v3.0.0)",
        "traefik/traefik docs/content/reference/routing-configuration/kubernetes/ingress-nginx.md",
    ),
)


# --- HAProxy Kubernetes Ingress Controller (haproxytech) ----------------------------------------------------------


def haproxy_service(sticky: bool) -> dict[str, str]:
    """cookie-persistence is read from the Service (or the ConfigMap); on an Ingress it is ignored."""
    return {"haproxy.org/cookie-persistence": COOKIE_NAME} if sticky else {}


HAPROXY = Controller(
    key="haproxy",
    class_names=("haproxy",),
    prefixes=("haproxy.org/",),
    ingress=no_ingress_annotations,
    service=haproxy_service,
    notes=(
        (
            "Websocket idle time is timeout-tunnel: 1h by default, ConfigMap only (no Ingress/Service annotation). "
            "Raise it in the controller's ConfigMap if a websocket may stay quiet longer."
        ),
        (
            "cookie-persistence goes on the Service behind the streaming paths; the cookie has no Max-Age (a browser "
            "session cookie): no annotation sets one."
        ),
        "The annotation reference lists no request body size annotation: nothing to set for 100 MiB uploads.",
        "This is haproxytech/kubernetes-ingress (haproxy.org/...), not jcmoraisjr/haproxy-ingress.",
    ),
    sources=(
        (
            "haproxytech/kubernetes-ingress documentation/annotations.md (#cookie-persistence: Available on configmap,"
            " service; #timeouts: timeout-tunnel, configmap, default 1h)"
        ),
        (
            "haproxytech/kubernetes-ingress documentation/ingressclass.md (ingressClassName: haproxy,"
            " controller: haproxy.org/ingress-controller)"
        ),
        "haproxytech/kubernetes-ingress pkg/service/service.go (cookie-persistence read per Service)",
    ),
)


# --- Contour -------------------------------------------------------------------------------------------------------


def contour_ingress(sticky: bool, streaming: Streaming) -> dict[str, str]:
    """Websockets per route (the Ingress's own paths); Envoy's 15 s route timeout off for every route."""
    return {
        "projectcontour.io/websocket-routes": ",".join(streaming.paths),
        "projectcontour.io/response-timeout": "infinity",
    }


CONTOUR = Controller(
    key="contour",
    class_names=("contour",),
    prefixes=("projectcontour.io/",),
    ingress=contour_ingress,
    service=no_service_annotations,
    notes=(
        (
            "Envoy's route timeout (15 s by default, a total time) would cut SockJS polls and streams: "
            "response-timeout infinity turns it off for the Ingress's routes. Idle time is bounded by Contour's "
            "stream-idle-timeout (5m by default): set timeouts.stream-idle-timeout (e.g. 1h) in the Contour "
            "configuration file or ContourConfiguration; per route it exists only on HTTPProxy (timeoutPolicy.idle)."
        ),
        (
            "No cookie affinity on an Ingress: only HTTPProxy's loadBalancerPolicy strategy Cookie (or a Gateway API "
            "route) has it."
        ),
        "No body size annotation exists; none is set.",
    ),
    sources=(
        "projectcontour/contour site/content/docs/main/config/annotations.md (websocket-routes, response-timeout)",
        "projectcontour/contour site/content/docs/main/configuration.md (Timeout Configuration: stream-idle-timeout)",
        "projectcontour/contour site/content/docs/main/config/request-routing.md (timeoutPolicy, Session Affinity)",
        "projectcontour/contour site/content/docs/main/config/ingress.md (class `contour` by default)",
        "projectcontour/contour internal/annotation/annotations.go, internal/dag/policy.go (ingressTimeoutPolicy)",
    ),
)


# --- Cilium --------------------------------------------------------------------------------------------------------

CILIUM = Controller(
    key="cilium",
    class_names=("cilium",),
    prefixes=("ingress.cilium.io/",),
    ingress=no_ingress_annotations,
    service=no_service_annotations,
    notes=(
        (
            "Its Ingress annotations cover load balancer, Service type, ports, TLS passthrough and HTTPS redirect "
            "only: no timeout, affinity or body size."
        ),
        (
            "Websocket upgrades are on for every listener it generates, and its route timeout is off. Idle streams are "
            "cut after Envoy's stream idle timeout: Helm envoy.streamIdleTimeoutDurationSeconds (300 by default); on "
            "1.18.x that value did not reach the generated Envoy config (cilium/cilium#43814: set extraConfig "
            "proxy-stream-idle-timeout-seconds as well)."
        ),
        (
            "No sticky sessions on an Ingress. Its Gateway API has sessionPersistence, with session cookies only: "
            "cookieConfig.lifetimeType Permanent and absoluteTimeout make it refuse the route (Accepted=False)."
        ),
        "Cilium's own migration guide points ingress-nginx users to the Gateway API.",
    ),
    sources=(
        (
            "https://docs.cilium.io/en/stable/network/servicemesh/ingress/ (cilium/cilium"
            " Documentation/network/servicemesh/ingress.rst: Supported Ingress Annotations; ingressClassName cilium)"
        ),
        (
            "cilium/cilium operator/pkg/model/translation/envoy_http_connection_manager.go (UpgradeConfigs websocket,"
            " MaxStreamDuration 0)"
        ),
        "https://github.com/cilium/cilium/pull/31514 (route timeout 0s for Ingress routes)",
        "cilium/cilium install/kubernetes/cilium/README.md (envoy.streamIdleTimeoutDurationSeconds, default 300)",
        "https://github.com/cilium/cilium/issues/43814",
        "cilium/cilium Documentation/network/servicemesh/gateway-api/session-persistence.rst",
        "cilium/cilium Documentation/network/servicemesh/ingress-to-gateway/nginx-annotations-migration.rst",
    ),
)


# --- Istio ---------------------------------------------------------------------------------------------------------

ISTIO = Controller(
    key="istio",
    class_names=("istio",),
    prefixes=(),
    ingress=no_ingress_annotations,
    service=no_service_annotations,
    notes=(
        (
            "Istio serves Ingresses of class `istio` (IngressClass controller istio.io/ingress-controller) but reads "
            "no annotation on them besides the class: timeouts and affinity live in its own resources "
            "(VirtualService, DestinationRule) or the Gateway API."
        ),
    ),
    sources=(
        (
            "https://istio.io/latest/zh/docs/tasks/traffic-management/ingress/kubernetes-ingress/ (IngressClass istio,"
            " controller istio.io/ingress-controller)"
        ),
        (
            "istio/istio pilot/pkg/config/kube/ingress/ (reads only kubernetes.io/ingress.class),"
            " pkg/config/mesh/mesh.go (IngressClass: istio)"
        ),
    ),
)


CONTROLLERS: dict[str, Controller] = {
    controller.key: controller for controller in (INGRESS_NGINX, F5_NGINX, TRAEFIK, HAPROXY, CONTOUR, CILIUM, ISTIO)
}
"""By config key. Order matters: for a class name two controllers share, the first one listed owns it."""


def class_owners(controllers: dict[str, Controller]) -> dict[str, str]:
    """Each IngressClass name to the key of the first controller that lists it (`nginx`: ingress-nginx)."""
    owners: dict[str, str] = {}
    for controller in controllers.values():
        for class_name in controller.class_names:
            owners.setdefault(class_name, controller.key)
    return owners


CLASS_OWNERS = class_owners(CONTROLLERS)


def controller_for(class_name: str) -> Controller | None:
    """The controller a class name most likely means, or None for a class this module does not know."""
    key = CLASS_OWNERS.get(class_name)
    return CONTROLLERS[key] if key else None
