"""The rules this project lives by, as pure functions over one resource: its Pulumi type token and its inputs.

Each rule takes `(resource_type, props)` (props as Pulumi hands them to a policy: camelCase Kubernetes fields, plain
mappings and sequences) and returns a list of violation messages, empty when the resource complies or the rule does
not apply. No Pulumi import: `rocketchat_policies.py` wraps them for CrossGuard, and the tests call them directly.

During a preview some inputs are not known yet; the policy SDK raises when such a value is read. The rules read
only the fields they judge (never a Secret's name or a namespace), so unknown names elsewhere do not stop them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"

LONG_RUNNING = (DEPLOYMENT, STATEFULSET, DAEMONSET)
POD_BEARING = (*LONG_RUNNING, JOB, CRONJOB, POD)
SECRET_ENV = ("MONGO_URL", "TRANSPORTER")
STREAM_HUB = "stream-hub"
# The official chart's microservices keys (values.microservices.<key>) besides the monolith.
CHART_SERVICES = ("account", "authorization", "presence", "ddpStreamer", "streamHub")

# Semantic Versioning 2.0.0, exact (no ranges, no wildcards, no leading `v`); the same rule as components/versions.py.
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def is_exact_semver(text: Any) -> bool:
    return isinstance(text, str) and bool(_SEMVER.match(text))


# ---------------------------------------------------------------------------------------------------------
# Reading props
# ---------------------------------------------------------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def _path(props: Mapping[str, Any], *keys: str) -> Any:
    value: Any = props
    for key in keys:
        value = _map(value).get(key)
    return value


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def describe(resource_type: str, props: Mapping[str, Any]) -> str:
    """`Deployment rocketchat-account` / `Release rocketchat`: how messages name a resource."""
    name = props.get("name") if resource_type in (RELEASE, CHART_V4) else _path(props, "metadata", "name")
    return f"{_kind(resource_type)} {name if isinstance(name, str) else '(unnamed)'}"


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    if resource_type == POD:
        return _map(props.get("spec"))
    if resource_type == CRONJOB:
        return _map(_path(props, "spec", "jobTemplate", "spec", "template", "spec"))
    return _map(_path(props, "spec", "template", "spec"))


def containers(spec: Mapping[str, Any], *, init: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`container <name>` or `init container <name>`, container) for every container of a pod spec."""
    sections = ("containers", "initContainers") if init else ("containers",)
    for section in sections:
        for item in _seq(spec.get(section)):
            container = _map(item)
            label = "init container" if section == "initContainers" else "container"
            yield f"{label} {container.get('name', '?')}", container


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _truthy(value: Any, default: bool) -> bool:
    return default if value is None else value is True or value == "true"


# ---------------------------------------------------------------------------------------------------------
# Rule: stream-hub runs one pod, and never two at once
# ---------------------------------------------------------------------------------------------------------


def is_stream_hub(props: Mapping[str, Any], resource_type: str = DEPLOYMENT) -> bool:
    """By name (`<instance>-stream-hub`), by the component/name labels, or by its image."""
    name = _path(props, "metadata", "name")
    if isinstance(name, str) and (name == STREAM_HUB or name.endswith(f"-{STREAM_HUB}")):
        return True
    for labels in (_path(props, "metadata", "labels"), _path(props, "spec", "template", "metadata", "labels")):
        labels = _map(labels)
        if labels.get("app.kubernetes.io/component") == STREAM_HUB:
            return True
        label_name = labels.get("app.kubernetes.io/name")
        if isinstance(label_name, str) and (label_name == STREAM_HUB or label_name.endswith(f"-{STREAM_HUB}")):
            return True
    for _, container in containers(pod_spec(resource_type, props), init=False):
        image = container.get("image")
        if isinstance(image, str) and "/stream-hub-service" in image:
            return True
    return False


def stream_hub_singleton(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """stream-hub turns database changes into bus events: two pods publish every change twice, even briefly."""
    what = describe(resource_type, props)
    if resource_type in (DEPLOYMENT, STATEFULSET) and is_stream_hub(props, resource_type):
        problems = []
        replicas = _number(_path(props, "spec", "replicas"))
        if replicas is not None and replicas > 1:
            problems.append(f"{what}: stream-hub must run exactly one pod, not {int(replicas)}")
        strategy = _path(props, "spec", "strategy", "type") or "RollingUpdate"
        if resource_type == DEPLOYMENT and strategy != "Recreate":
            problems.append(
                f"{what}: stream-hub must use the Recreate strategy, not {strategy}: a rolling update starts the new "
                "pod before the old one stops, and two stream-hubs publish every database change twice"
            )
        return problems
    if resource_type == HPA:
        target = _path(props, "spec", "scaleTargetRef", "name")
        max_replicas = _number(_path(props, "spec", "maxReplicas"))
        if isinstance(target, str) and target.endswith(STREAM_HUB) and max_replicas is not None and max_replicas > 1:
            return [f"{what}: stream-hub must never scale beyond one pod (maxReplicas {int(max_replicas)})"]
        return []
    if resource_type == RELEASE:
        microservices = _map(_path(props, "values", "microservices"))
        stream_hub = _map(microservices.get("streamHub"))
        problems = []
        replicas = _number(stream_hub.get("replicas"))
        if replicas is not None and replicas > 1:
            problems.append(f"{what}: values.microservices.streamHub.replicas must not exceed 1 (got {int(replicas)})")
        # The chart's own defaults: microservices.enabled true, streamHub.enabled false.
        if _truthy(microservices.get("enabled"), True) and _truthy(stream_hub.get("enabled"), False):
            problems.append(
                f"{what}: values.microservices.streamHub.enabled is true, and the official chart runs stream-hub with "
                "a RollingUpdate (maxSurge 1) that briefly starts a second pod; deploy Rocket.Chat before 7.7 in "
                "mode raw (Recreate), or run 7.7.1+ without stream-hub"
            )
        return problems
    return []


# ---------------------------------------------------------------------------------------------------------
# Rule: every image is pinned
# ---------------------------------------------------------------------------------------------------------


def image_problem(image: Any) -> str | None:
    """Why an image reference is not pinned, or None: a digest, or a tag other than `latest`."""
    if not isinstance(image, str) or not image.strip():
        return "has no image"
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (it means :latest); pin a version or a digest"
    tag = last.rsplit(":", 1)[1]
    if not tag or tag.lower() == "latest":
        return f"image {image!r} uses the moving tag {tag or '(empty)'!r}; pin a version or a digest"
    return None


def _value_images(values: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every `image` in a chart's values: a string, or a mapping with `tag`."""
    if isinstance(values, Mapping):
        for key in values:
            value = values.get(key)
            here = f"{path}.{key}"
            if key == "image" and isinstance(value, str):
                yield here, value
            elif key == "image" and isinstance(value, Mapping) and "tag" in value:
                yield f"{here}.tag", value.get("tag")
            else:
                yield from _value_images(value, here)
    elif isinstance(values, Sequence) and not isinstance(values, str):
        for index, item in enumerate(values):
            yield from _value_images(item, f"{path}[{index}]")


def pinned_images(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every pod runs a known build: a tag other than `latest`, or a digest; the chart gets an exact version."""
    what = describe(resource_type, props)
    if resource_type in POD_BEARING:
        problems = []
        for label, container in containers(pod_spec(resource_type, props)):
            problem = image_problem(container.get("image"))
            if problem:
                problems.append(f"{what}: {label} {problem}")
        return problems
    if resource_type == RELEASE:
        values = _map(props.get("values"))
        problems = []
        tag = _path(values, "image", "tag")
        if not is_exact_semver(tag):
            problems.append(
                f"{what}: values.image.tag must be an exact Rocket.Chat version such as 8.6.1 (it tags every image "
                f"of the chart), got {tag!r}"
            )
        for where, image in _value_images(values, "values"):
            if where == "values.image.tag":
                continue
            if where.endswith(".tag"):
                if not isinstance(image, str | int | float) or str(image).strip().lower() in ("", "latest"):
                    problems.append(f"{what}: {where} must pin a version, got {image!r}")
            else:
                problem = image_problem(image)
                if problem:
                    problems.append(f"{what}: {where} {problem}")
        return problems
    return []


# ---------------------------------------------------------------------------------------------------------
# Rule: MONGO_URL and TRANSPORTER come from Secrets
# ---------------------------------------------------------------------------------------------------------


def _env_problem(entry: Mapping[str, Any]) -> str | None:
    # Keys only: a literal that is not known yet (preview) is still a literal, and reading it would raise.
    if "value" in set(iter(entry)):
        return "is a literal value"
    if not _map(_map(entry.get("valueFrom")).get("secretKeyRef")):
        source = ", ".join(sorted(_map(entry.get("valueFrom")))) or "nothing"
        return f"comes from {source}, not a Secret (valueFrom.secretKeyRef)"
    return None


def _env_problems(where: str, env: Any) -> list[str]:
    """`where: NAME <problem>` for each credential-carrying variable of an env list not read from a Secret."""
    problems = []
    for item in _seq(env):
        entry = _map(item)
        if entry.get("name") in SECRET_ENV:
            problem = _env_problem(entry)
            if problem:
                problems.append(f"{where} {entry.get('name')} {problem}; read it from a Secret")
    return problems


def secret_env(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The database URL and the bus address carry credentials: they reach a pod only through a secretKeyRef."""
    what = describe(resource_type, props)
    problems = []
    if resource_type in POD_BEARING:
        for label, container in containers(pod_spec(resource_type, props)):
            problems += _env_problems(f"{what}: {label}:", container.get("env"))
    elif resource_type == RELEASE:
        values = _map(props.get("values"))
        problems += _env_problems(f"{what}: values.extraEnv", values.get("extraEnv"))
        if values.get("externalMongodbUrl"):
            problems.append(
                f"{what}: values.externalMongodbUrl puts the MongoDB URL in the release values (and the Helm release "
                "record); put it in a Secret (key mongo-uri) and set existingMongodbSecret"
            )
    return problems


# ---------------------------------------------------------------------------------------------------------
# Rule: every container has resources and health probes
# ---------------------------------------------------------------------------------------------------------


def _resource_problems(resources: Any) -> list[str]:
    missing = [
        f"{section}.{name}"
        for section, names in (("requests", ("cpu", "memory")), ("limits", ("memory",)))
        for name in names
        if _path(_map(resources), section, name) in (None, "")
    ]
    return [f"has no resources {', '.join(missing)}"] if missing else []


def container_hygiene(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Requests let the scheduler place pods and the memory limit bounds them; probes let Kubernetes route and heal."""
    what = describe(resource_type, props)
    problems = []
    if resource_type in LONG_RUNNING:
        for label, container in containers(pod_spec(resource_type, props)):
            found = _resource_problems(container.get("resources"))
            if label.startswith("container"):
                if not container.get("readinessProbe"):
                    found.append("has no readinessProbe")
                if not container.get("livenessProbe") and not container.get("startupProbe"):
                    found.append("has no livenessProbe or startupProbe")
            problems += [f"{what}: {label} {problem}" for problem in found]
    elif resource_type == RELEASE:
        values = _map(props.get("values"))
        problems += [f"{what}: values (the monolith) {p}" for p in _resource_problems(values.get("resources"))]
        microservices = _map(values.get("microservices"))
        if _truthy(microservices.get("enabled"), True):
            for key in CHART_SERVICES:
                service = _map(microservices.get(key))
                if key == "streamHub" and not _truthy(service.get("enabled"), False):
                    continue
                where = f"values.microservices.{key}"
                problems += [f"{what}: {where} {p}" for p in _resource_problems(service.get("resources"))]
        for probe in ("livenessProbe", "readinessProbe"):
            if _path(values, probe, "enabled") is False:
                problems.append(f"{what}: values.{probe}.enabled is false: the monolith must keep its {probe}")
    return problems


# ---------------------------------------------------------------------------------------------------------
# Rule: chart versions are pinned
# ---------------------------------------------------------------------------------------------------------


def pinned_chart_version(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Without an exact version, Helm installs whatever the repository serves newest on the day of the deploy."""
    if resource_type not in (RELEASE, CHART_V4):
        return []
    chart = props.get("chart")
    if isinstance(chart, str) and chart.startswith(("./", "../", "/")):
        return []  # a chart directory in the repository: pinned by the commit
    version = props.get("version")
    if is_exact_semver(version):
        return []
    shown = "no version" if version in (None, "") else f"version {version!r}"
    what = describe(resource_type, props)
    return [f"{what}: chart {chart!r} has {shown}; pin an exact chart version such as 7.0.2 (no ranges or wildcards)"]


# ---------------------------------------------------------------------------------------------------------
# The table the policy pack is built from
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[[str, Mapping[str, Any]], list[str]]


RULES: tuple[Rule, ...] = (
    Rule(
        "stream-hub-singleton",
        "stream-hub never runs more than one pod and never rolls (Recreate), in raw Deployments and chart values.",
        stream_hub_singleton,
    ),
    Rule(
        "pinned-images",
        "Every container image has a tag other than latest (or a digest); the chart's image.tag is an exact version.",
        pinned_images,
    ),
    Rule(
        "secret-env",
        "MONGO_URL and TRANSPORTER are never literal env values: always valueFrom.secretKeyRef.",
        secret_env,
    ),
    Rule(
        "container-resources-and-probes",
        "Every container requests CPU and memory and limits memory; every long-running container has a readiness "
        "probe and a liveness or startup probe.",
        container_hygiene,
    ),
    Rule(
        "pinned-chart-version",
        "Every helm.v3.Release (and v4 Chart) pins an exact chart version.",
        pinned_chart_version,
    ),
)


def violations(resource_type: str, props: Mapping[str, Any]) -> dict[str, list[str]]:
    """Rule name -> messages, for the rules this resource breaks."""
    found = {rule.name: rule.check(resource_type, props) for rule in RULES}
    return {name: messages for name, messages in found.items() if messages}
