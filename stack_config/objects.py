"""What the program would build, held to the API server's rules before anything is registered.

The schema checks each key alone; this checks what the keys make: the names of the stack's objects (and of the
chart's, which are `<release>-<workload>`), the labels derived from keys, every container's requests against its
limits once the catalog's defaults are laid under what the stack file gives, tolerations, the Ingress's annotations
(the user's with the stack's own), the size of the Secrets the program writes. It runs on the components' args, which
determine all of it, because the objects themselves cannot be checked in time: once a resource is constructed the SDK
sends its registration even if the program then fails. The rules are stack_config/api_rules.py's; each problem names
the `rocketchat:` key it comes from.

The tests apply the same rules to every object the program really registers (tools/api_checks.py), so a rule this
module misses is caught there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from components.args import requests_and_limits
from components.catalog import (
    MICROSERVICES,
    MONGODB_RESOURCES,
    MONOLITH,
    NATS_RESOURCES,
    ResourceDefaults,
)
from components.gateway import GATEWAY_GROUP
from components.ingress import DEFAULT_CLASS, ingress_annotations
from components.inventory import HELM_RELEASE, stack_objects
from components.k8s import OWNED_ANNOTATIONS
from components.nats import nats_object_names, render_nats_config
from components.ownership import OWNER_ANNOTATION
from components.planning import WorkloadPlan, args_key, plan_workloads
from components.release import DEFAULT_RELEASE_NAME, chart_pod_name, chart_service_name
from components.stack import (
    DEFAULT_NAMESPACE,
    EXTERNAL_DNS_PREFIX,
    RocketChatStackArgs,
    dns_ttl,
    ingress_enabled,
    nats_object_name,
    runs_own_nats,
    sizing,
    stack_instance,
)
from stack_config import api_rules
from stack_config.diagnostics import _key, shown
from stack_config.schema import StackConfig

NameRule = Callable[[str], str | None]

GENERATED_PASSWORD_LENGTH = 32
"""The length of the NATS passwords (components/passwords.py's default), which the NATS config holds."""
SHORTEST_ROUTE_BYTES = 60
"""No route of a NATS config is shorter (`"nats://route:<32>@<n>-0.<n>-headless.<ns>.svc.cluster.local:6222", `):
more servers than 1 MiB / 60 cannot fit in its Secret, whatever the names, and are refused without rendering."""


def object_problems(config: StackConfig, args: RocketChatStackArgs) -> list[str]:
    """Every rule of the API server that the objects these args make would break, each naming its key."""
    problems = _name_problems(config, args)
    problems += _label_problems(config, args)
    problems += _resource_problems(config, args)
    problems += _toleration_problems(config)
    problems += _annotation_problems(config, args)
    problems += _secret_problems(config, args)
    problems += _route_problems(config)
    return problems


def _source_of_names(config: StackConfig, args: RocketChatStackArgs) -> tuple[list[str], str]:
    """The key that names the stack's objects (`<instance>-...`), and its value."""
    if config.instance:
        return ["instance"], config.instance
    if args["mode"] == "helm":
        return ["chart", "releaseName"], stack_instance(args)
    return ["instance"], stack_instance(args)


def _name_problems(config: StackConfig, args: RocketChatStackArgs) -> list[str]:
    instance_key, instance = _source_of_names(config, args)
    release = (args.get("chart") or {}).get("release_name", DEFAULT_RELEASE_NAME)
    named: list[tuple[list[str], str, str, str, NameRule]] = []
    for ref in stack_objects(args):
        if ref.kind in (HELM_RELEASE, "Namespace"):
            continue  # the release name and the namespace are checked by the schema, as they are given
        key, value = (
            (["chart", "releaseName"], release)
            if ref.name.startswith(f"{release}-") and args["mode"] == "helm" and not ref.name.startswith(instance)
            else (instance_key, instance)
        )
        named.append((key, value, ref.kind, ref.name, lambda name, kind=ref.kind: api_rules.object_name(kind, name)))
    if args["mode"] == "helm":
        plans, _ = plan_workloads(sizing(args))
        key = ["chart", "releaseName"]
        named += [(key, release, kind, name, rule) for kind, name, rule in chart_object_names(release, plans)]
    problems = _first_per_key(
        (key, f"{value!r} names the {kind} {name!r}, which {why}")
        for key, value, kind, name, rule in named
        if (why := rule(name)) is not None
    )
    if not config.instance and args["mode"] == "helm":
        # The instance defaults to the release name: the stack's own objects can be named apart from the chart's.
        hint = (
            "; the stack's own objects take the release name unless rocketchat:instance is set: set rocketchat:instance"
        )
        problems = [f"{p}{hint}" if p.startswith(_key(["chart", "releaseName"])) else p for p in problems]
    return problems


def chart_object_names(release: str, plans: Iterable[WorkloadPlan]) -> list[tuple[str, str, NameRule]]:
    """The names the official chart (7.0.2) gives the objects it makes for these workloads, with the rule each must
    meet. `rocketchat.fullname` (templates/_helpers.tpl) is `<release>-rocketchat` cut to 63 characters: the
    monolith's Deployment and Service (which the Ingress names uncut), and, prometheusScraping being always on here
    and microservices.enabled with any microservice, the Service `<fullname>-monolith-ms-metrics`, not cut. Each
    microservice's Deployment, Service and pod label `app.kubernetes.io/name` are `<release>-<service>`
    (templates/microservices-*.yaml)."""
    fullname = f"{release}-{MONOLITH.name}"[: api_rules.MAX_LABEL_LENGTH].rstrip("-")
    names: list[tuple[str, str, NameRule]] = [
        ("Deployment", fullname, api_rules.dns_subdomain),
        ("Service", fullname, api_rules.dns_1035_label),
        # The Ingress's backend names the monolith's Service uncut (components/release.py, chart_service_name): a
        # longer name than the Service's own is refused in the Ingress (ValidateIngressBackend).
        ("Ingress backend Service", chart_service_name(release, MONOLITH), api_rules.dns_1035_label),
    ]
    services = [plan.workload for plan in plans if not plan.workload.is_monolith]
    if services:
        names.append(("Service", f"{fullname}-monolith-ms-metrics", api_rules.dns_1035_label))
    for workload in services:
        name = f"{release}-{workload.name}"
        names.append(("Deployment", name, api_rules.dns_subdomain))
        names.append(("Service", name, api_rules.dns_1035_label))
        names.append(("label app.kubernetes.io/name of", chart_pod_name(release, workload), api_rules.label_value))
    return names


def _label_problems(config: StackConfig, args: RocketChatStackArgs) -> list[str]:
    problems = []
    # The raw workloads carry the version as `app.kubernetes.io/version`.
    if config.version and (why := api_rules.label_value(config.version)) is not None:
        problems.append(f"{_key(['version'])}: {config.version!r} is the label app.kubernetes.io/version, which {why}")
    return problems


def _resource_problems(config: StackConfig, args: RocketChatStackArgs) -> list[str]:
    """Each container's requests against its limits, once the defaults are laid under what is given."""
    containers: list[tuple[list[str], str, ResourceDefaults, Any]] = []
    plans, _ = plan_workloads(sizing(args))
    running = {plan.workload.key for plan in plans}
    containers.append((["monolith", "resources"], "the monolith", MONOLITH.resources, config.monolith.resources))
    for workload in MICROSERVICES:
        if workload.key in running:
            given = getattr(config.services, args_key(workload)).resources
            containers.append((["services", workload.key, "resources"], workload.name, workload.resources, given))
    if runs_own_nats(args):
        containers.append((["nats", "resources"], "NATS", NATS_RESOURCES, config.nats.resources))
    if config.mongodb.in_cluster is not None:
        given = config.mongodb.in_cluster.resources
        containers.append((["mongodb", "inCluster", "resources"], "MongoDB", MONGODB_RESOURCES, given))

    problems = []
    for path, what, defaults, given in containers:
        given_args = given.model_dump(exclude_none=True)
        requests, limits = requests_and_limits(defaults, given_args)
        for resource in ("cpu", "memory"):
            if resource not in requests or resource not in limits:
                continue
            why = api_rules.request_within_limit(resource, requests[resource], limits[resource])
            if why is None:
                continue
            gave_request = resource in given_args.get("requests", {})
            gave_limit = resource in given_args.get("limits", {})
            side, other = ("requests", "limits") if gave_request else ("limits", "requests")
            default = "" if gave_request and gave_limit else f" (the {other[:-1]} is {what}'s default)"
            fix = f"; set {_key([*path, other, resource])} as well" if default else ""
            problems.append(
                f"{_key([*path, side, resource])}: {why}{default}: Kubernetes refuses a container whose request is "
                f"above its limit{fix}"
            )
    return problems


def _toleration_problems(config: StackConfig) -> list[str]:
    problems = []
    for index, given in enumerate(config.scheduling.tolerations):
        for field, why in api_rules.toleration(
            given.key, given.operator, given.value, given.effect, given.toleration_seconds
        ):
            key = _key(["scheduling", "tolerations", index, field])
            value = getattr(given, field)
            # The grammar rules (key, value) read after the value; the others say what the field must be.
            problems.append(
                f"{key}: {value!r} {why}" if why.startswith("is ") else f"{key}: {why} (got {shown(value)})"
            )
    return problems


REFUSED_ANNOTATIONS: dict[str, str] = {
    "pulumi.com/patchForce": "it is on every object the stack owns, so that `pulumi up` takes back a field changed "
    "by hand; remove it",
    OWNER_ANNOTATION: "it records which stack owns the object (docs/ownership.md); remove it",
    "pulumi.com/skipAwait": "set rocketchat:ingress.skipAwait instead",
    "cert-manager.io/cluster-issuer": "set rocketchat:ingress.tls.clusterIssuer instead (the stack then also names "
    "the TLS Secret cert-manager fills)",
}
"""Annotations the stack sets itself and relies on: given by hand they would undo what a key of its own says."""


def _ingress_annotations(args: RocketChatStackArgs, user: bool = True, sticky: bool | None = None) -> dict[str, str]:
    """The Ingress's annotations as RocketChatStack asks RocketChatIngress for them (with or without the user's)."""
    settings = args.get("ingress") or {}
    tls = settings.get("tls") or {}
    dns = args.get("dns") or {}
    ingress_args: Any = {
        "namespace": args.get("namespace", DEFAULT_NAMESPACE),
        "host": args["host"],
        "monolith_service": "",
        "class_name": settings.get("class_name", DEFAULT_CLASS),
        "sticky_sessions": settings.get("sticky_sessions", True) if sticky is None else sticky,
        "dns_ttl": dns_ttl(args),
        "skip_await": settings.get("skip_await", False),
    }
    if settings.get("controller"):
        ingress_args["controller"] = settings["controller"]
    if tls.get("cluster_issuer"):
        ingress_args["cluster_issuer"] = tls["cluster_issuer"]
    if dns.get("external_dns"):
        ingress_args["external_dns_prefix"] = dns.get("annotation_prefix", EXTERNAL_DNS_PREFIX)
    if user:
        ingress_args["annotations"] = dict(settings.get("annotations") or {})
    return ingress_annotations(ingress_args)


def _annotation_problems(config: StackConfig, args: RocketChatStackArgs) -> list[str]:
    problems = [
        f"{_key(['ingress', 'annotations', key])}: this annotation is the stack's own: {why}"
        for key in config.ingress.annotations
        if (why := REFUSED_ANNOTATIONS.get(key)) is not None
    ]
    if ingress_enabled(args):
        whole = _ingress_annotations(args) | OWNED_ANNOTATIONS | {OWNER_ANNOTATION: args.get("owner", "")}
        if (why := api_rules.annotations_size(whole)) is not None:
            problems.append(f"{_key(['ingress', 'annotations'])}: the Ingress's annotations {why}")
    return problems


def annotation_overrides(config: StackConfig, args: RocketChatStackArgs) -> list[str]:
    """Warnings for the user's Ingress annotations that replace a value the stack sets itself (the user's win)."""
    if not ingress_enabled(args):
        return []
    own = _ingress_annotations(args, user=False)
    sticky_keys = set(_ingress_annotations(args, user=False, sticky=True)) ^ set(
        _ingress_annotations(args, user=False, sticky=False)
    )
    warnings = []
    for key, value in config.ingress.annotations.items():
        if key in REFUSED_ANNOTATIONS or key not in own or own[key] == value:
            continue
        why = (
            "the stack sets it for rocketchat:ingress.stickySessions (SockJS fallbacks must reach one ddp-streamer "
            "pod); set stickySessions to false to manage session affinity yourself"
            if key in sticky_keys
            else "check that websockets (held open for hours) and uploads still pass"
        )
        warnings.append(
            f"{_key(['ingress', 'annotations', key])} replaces the value the stack sets itself ({shown(own[key])}): "
            f"{why}"
        )
    return warnings


def _route_problems(config: StackConfig) -> list[str]:
    """The HTTPRoute's parentRefs, as components/gateway.py writes them (every parent a Gateway)."""
    if config.gateway is None:
        return []
    refs = [(GATEWAY_GROUP, "Gateway", r.name, r.namespace, r.section_name) for r in config.gateway.parent_refs]
    return [f"{_key(['gateway', 'parentRefs', i])}: {why}" for i, why in api_rules.parent_refs(refs)]


def _secret_problems(config: StackConfig, args: RocketChatStackArgs) -> list[str]:
    problems = []
    for key, secret in (("mongoUrl", config.mongo_url), ("license", config.license)):
        if secret is not None and (why := api_rules.secret_size({key: secret.get_secret_value()})) is not None:
            problems.append(f"{_key([key])}: {why} (value not shown)")
    if runs_own_nats(args) and (why := _nats_config_size(args)) is not None:
        problems.append(
            f"{_key(['nats', 'replicas'])}: {config.nats.replicas} servers: the NATS config, which lists a route to "
            f"every server, {why}; run fewer servers"
        )
    return problems


def _nats_config_size(args: RocketChatStackArgs) -> str | None:
    replicas = (args.get("nats") or {}).get("replicas", 1)
    if replicas > api_rules.MAX_SECRET_BYTES // SHORTEST_ROUTE_BYTES:
        return f"would hold more than {replicas * SHORTEST_ROUTE_BYTES} bytes; a Secret holds at most 1 MiB"
    names = nats_object_names(nats_object_name(args))
    namespace = args.get("namespace", DEFAULT_NAMESPACE)
    password = "x" * GENERATED_PASSWORD_LENGTH
    routes = [
        f"{names['statefulset']}-{i}.{names['headless_service']}.{namespace}.svc.cluster.local:6222"
        for i in range(replicas)
    ]
    text = render_nats_config(client_password=password, route_password=password, routes=routes)
    return api_rules.secret_size({"nats.conf": text})


def _first_per_key(found: Iterable[tuple[list[str], str]]) -> list[str]:
    """One problem per key (the first object it breaks, and how many more), not one per object."""
    by_key: dict[str, list[str]] = {}
    for key, why in found:
        by_key.setdefault(_key(key), []).append(why)
    return [
        f"{key}: {whys[0]}" + (f" (and {len(whys) - 1} more of its objects)" if len(whys) > 1 else "")
        for key, whys in by_key.items()
    ]
