"""Stack configuration: the `rocketchat:` namespace parsed once, validated completely, and turned into settings.

`load_settings` reads every `rocketchat:*` key of the stack, validates all of it with pydantic, applies the
rules that span keys (stream-hub by version, ddp-streamer sizing, the MongoDB source), and raises one
`ConfigError` naming every problem, its key, the stack file and what is allowed. It runs before any resource
is registered, so a bad stack creates nothing.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from components.catalog import MICROSERVICES, MONOLITH, ResourceDefaults, Workload
from components.deployed import DEFAULT_RAW_INSTANCE, Deployed, read_deployed
from components.versions import (
    DEFAULT_CHART_REPO,
    DEFAULT_CHART_VERSION,
    STREAM_HUB_OPTIONAL_FROM,
    StreamHubRule,
    Version,
    is_exact_semver,
    stream_hub_rule,
)

CONFIG_NAMESPACE = "rocketchat"
SECRET_KEYS = ("mongoUrl", "license")
# Plain strings in the stack file; never JSON-decoded (so `version: 8.0` stays the text "8.0" and is rejected).
_STRING_KEYS = frozenset({"mode", "host", "namespace", "version", *SECRET_KEYS})
USERS_PER_DDP_STREAMER = 500
MAX_INSTANCE_LENGTH = 40
# Namespaces Kubernetes keeps for itself: nothing of a workspace belongs there.
RESERVED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# The Kubernetes provider setting that updates a Secret in place when its data changes (without it, the provider
# deletes the Secret and creates it again, and Pulumi deletes and recreates every Deployment that reads it).
_PROVIDER_PREFIX = "kubernetes:"
SECRET_MUTABLE_KEY = "enableSecretMutable"
# The official chart (checked at 7.0.2) fails to render without stream-hub up to and including this version.
CHART_STREAM_HUB_REQUIRED_UP_TO = Version(7, 7, 0)

# ---------------------------------------------------------------------------------------------------------
# Field types with the message a user sees when a value is wrong
# ---------------------------------------------------------------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS label: lowercase letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not all(_DNS_LABEL.match(label) for label in value.split(".")):
        raise ValueError(
            f"{value!r} is not a DNS subdomain name: dot-separated lowercase labels of letters, digits and '-'"
        )
    return value


def _host(value: str) -> str:
    if "://" in value:
        raise ValueError(f"{value!r} has a scheme: give the bare host name, e.g. chat.example.com")
    if "/" in value:
        raise ValueError(f"{value!r} has a path: give the bare host name, e.g. chat.example.com")
    if "." not in value:
        raise ValueError(f"{value!r} is not a fully qualified DNS name such as chat.example.com")
    return _dns_subdomain(value)


def _semver(value: str) -> str:
    if value.strip().lower() == "latest":
        raise ValueError("'latest' is not allowed: pin an exact version such as 8.6.1 so every pod runs the same code")
    Version.parse(value)
    return value


def _chart_version(value: str) -> str:
    if not is_exact_semver(value):
        raise ValueError(
            f"{value!r} is not an exact chart version: ranges and wildcards (^7.0, ~7, 7.x, >=7) are not "
            "allowed; pin one such as 7.0.2"
        )
    return value


def _release_name(value: str) -> str:
    _dns_label(value)
    if len(value) > 53:
        raise ValueError(f"{value!r} is longer than Helm's limit of 53 characters")
    if "nats" in value:
        raise ValueError(
            f"{value!r} contains 'nats', which breaks the chart's TRANSPORTER address; choose another name"
        )
    return value


def _instance(value: str) -> str:
    _dns_label(value)
    if len(value) > MAX_INSTANCE_LENGTH:
        raise ValueError(
            f"{value!r} is longer than {MAX_INSTANCE_LENGTH} characters (it prefixes names such as "
            f"<instance>-default-deny-ingress, which must stay within 63)"
        )
    return value


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 250m, 1, 512Mi or 2Gi")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
Quantity = Annotated[str, AfterValidator(_quantity)]
Replicas = Annotated[int, Field(ge=1)]


class _Model(BaseModel):
    # strict: "3" is not an int and "yes" is not a bool; extra="forbid": a misspelt key is an error.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class ResourceAmounts(_Model):
    cpu: Quantity | None = None
    memory: Quantity | None = None


class Resources(_Model):
    requests: ResourceAmounts = ResourceAmounts()
    limits: ResourceAmounts = ResourceAmounts()


class WorkloadConfig(_Model):
    replicas: Replicas | None = None
    resources: Resources = Resources()


class StreamHubConfig(_Model):
    enabled: bool | None = None
    replicas: Annotated[int, Field(ge=1, le=1)] = 1
    resources: Resources = Resources()


class ServicesConfig(_Model):
    account: WorkloadConfig = WorkloadConfig()
    authorization: WorkloadConfig = WorkloadConfig()
    presence: WorkloadConfig = WorkloadConfig()
    ddp_streamer: WorkloadConfig = Field(WorkloadConfig(), alias="ddpStreamer")
    stream_hub: StreamHubConfig = Field(StreamHubConfig(), alias="streamHub")


class MonolithConfig(_Model):
    replicas: Replicas = 1
    resources: Resources = Resources()


class NatsConfig(_Model):
    replicas: Replicas = 1
    bundled: bool = False
    resources: Resources = Resources()


class InClusterMongoConfig(_Model):
    replicas: Literal[1, 3, 5] = 1
    storage: Quantity = "8Gi"
    storage_class_name: DnsSubdomain | None = Field(None, alias="storageClassName")
    resources: Resources = Resources()


class MongoConfig(_Model):
    in_cluster: InClusterMongoConfig | None = Field(None, alias="inCluster")


class ChartConfig(_Model):
    version: Annotated[str, AfterValidator(_chart_version)] = DEFAULT_CHART_VERSION
    repo: Annotated[str, Field(pattern=r"^(https?|oci)://\S+$")] = DEFAULT_CHART_REPO
    release_name: Annotated[str, AfterValidator(_release_name)] = Field("rocketchat", alias="releaseName")
    atomic: bool = True
    cleanup_on_fail: bool = Field(True, alias="cleanupOnFail")
    timeout: Annotated[int, Field(ge=60, le=3600)] = 900
    max_history: Annotated[int, Field(ge=1, le=100)] = Field(10, alias="maxHistory")
    skip_await: bool = Field(False, alias="skipAwait")


class TlsConfig(_Model):
    secret_name: DnsSubdomain | None = Field(None, alias="secretName")
    cluster_issuer: DnsSubdomain | None = Field(None, alias="clusterIssuer")

    @model_validator(mode="after")
    def _needs_a_source(self) -> TlsConfig:
        if not self.secret_name and not self.cluster_issuer:
            raise ValueError("give secretName (an existing TLS Secret) and/or clusterIssuer (cert-manager)")
        return self


class IngressConfig(_Model):
    class_name: DnsSubdomain = Field("nginx", alias="className")
    annotations: dict[str, str] = {}
    tls: TlsConfig | None = None
    sticky_sessions: bool = Field(True, alias="stickySessions")
    skip_await: bool = Field(False, alias="skipAwait")
    controller_namespace: DnsLabel = Field("ingress-nginx", alias="controllerNamespace")


class DnsConfig(_Model):
    ttl: Annotated[int, Field(ge=30, le=86400)] = 300
    external_dns: bool = Field(False, alias="externalDns")
    annotation_prefix: Annotated[str, Field(pattern=r"^[a-z0-9.-]+/$")] = Field(
        "external-dns.alpha.kubernetes.io/", alias="annotationPrefix"
    )


class Toleration(_Model):
    key: str | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(None, alias="tolerationSeconds")


class SchedulingConfig(_Model):
    tolerations: list[Toleration] = []
    node_selector: dict[str, str] = Field({}, alias="nodeSelector")


class MonitoringConfig(_Model):
    namespace: DnsLabel = "monitoring"
    """Namespace whose pods (Prometheus) may scrape the metrics ports."""
    pod_monitor: bool = Field(False, alias="podMonitor")


class StackConfig(_Model):
    """The `rocketchat:` keys exactly as a stack file spells them (see the README for each)."""

    mode: Literal["helm", "raw"] | None = None
    host: Annotated[str, AfterValidator(_host)] | None = None
    namespace: DnsLabel = "rocketchat"
    create_namespace: bool = Field(True, alias="createNamespace")
    instance: Annotated[str, AfterValidator(_instance)] | None = None
    version: Annotated[str, AfterValidator(_semver)] | None = None
    microservices: bool = True
    concurrent_users: Annotated[int, Field(ge=0)] = Field(0, alias="concurrentUsers")
    monolith: MonolithConfig = MonolithConfig()
    services: ServicesConfig = ServicesConfig()
    nats: NatsConfig = NatsConfig()
    mongodb: MongoConfig = MongoConfig()
    chart: ChartConfig = ChartConfig()
    ingress: IngressConfig = IngressConfig()
    dns: DnsConfig = DnsConfig()
    scheduling: SchedulingConfig = SchedulingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    mongo_url: SecretStr | None = Field(None, alias="mongoUrl")
    license: SecretStr | None = None


EXAMPLE_MONGO_URL = "'mongodb+srv://USER:PASSWORD@cluster.example.net/rocketchat'"
EXAMPLE_LICENSE = '"$(cat rocketchat.license)"'


def set_secret_command(stack: str, key: str, value: str) -> str:
    """The exact command that stores a secret key of this stack, encrypted."""
    return f"pulumi config set --secret --stack {stack} {CONFIG_NAMESPACE}:{key} {value}"


_REQUIRED = {
    "mode": "set it to 'raw' (plain Kubernetes resources) or 'helm' (the official chart)",
    "host": "set it to the public DNS name, e.g. chat.example.com",
    "version": "set it to the Rocket.Chat version to run, e.g. 8.6.1",
}

# ---------------------------------------------------------------------------------------------------------
# Settings: the validated config plus everything derived from it, handed to the components
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkloadPlan:
    """One workload as this stack runs it."""

    workload: Workload
    replicas: int
    requests: dict[str, str]
    limits: dict[str, str]


@dataclass(frozen=True)
class Settings:
    stack: str
    config: StackConfig
    version: Version
    workloads: tuple[WorkloadPlan, ...]
    """Monolith first, then every enabled microservice."""
    warnings: tuple[str, ...] = field(default=())

    @property
    def mode(self) -> Literal["helm", "raw"]:
        assert self.config.mode is not None
        return self.config.mode

    @property
    def host(self) -> str:
        assert self.config.host is not None
        return self.config.host

    @property
    def namespace(self) -> str:
        return self.config.namespace

    @property
    def instance(self) -> str:
        """Names and labels the stack's own objects (NATS, Secrets, NetworkPolicies, Ingress, raw workloads): the
        `instance` key, else 'rocketchat' in raw mode and the chart's release name in helm mode."""
        if self.config.instance:
            return self.config.instance
        return self.config.chart.release_name if self.mode == "helm" else DEFAULT_RAW_INSTANCE

    @property
    def create_namespace(self) -> bool:
        return self.config.create_namespace

    @property
    def tls(self) -> bool:
        return self.config.ingress.tls is not None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def microservices(self) -> bool:
        return self.config.microservices

    def plan(self, key: str) -> WorkloadPlan | None:
        return next((p for p in self.workloads if p.workload.key == key), None)

    @property
    def replicas(self) -> dict[str, int]:
        """Pods per workload, as exported in the `replicas` output."""
        counts = {p.workload.name: p.replicas for p in self.workloads}
        counts["nats"] = self.config.nats.replicas  # ours, or the chart's bundled NATS at the same size
        if self.config.mongodb.in_cluster:
            counts["mongodb"] = self.config.mongodb.in_cluster.replicas
        return counts


class ConfigError(pulumi.RunError):
    """Bad stack configuration; the message lists every problem. RunError: Pulumi prints it without a traceback."""

    def __init__(self, stack_file: str, problems: list[str]) -> None:
        self.stack_file = stack_file
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"invalid stack configuration in {stack_file} ({count}):\n{lines}")


def stack_file(stack: str) -> str:
    return f"Pulumi.{stack}.yaml"


def read_stack_config() -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    """All `rocketchat:*` keys of the running stack (decoded from Pulumi's string form), the secret ones, and the
    Kubernetes provider's settings (`kubernetes:*`).

    Reads the whole config bag rather than known keys one by one, so that a misspelt key is seen and rejected.
    """
    from pulumi.runtime import config as runtime_config

    every = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    env_secrets = set(runtime_config.get_config_secret_keys_env())
    secret_keys = {key for key in every if key in env_secrets or runtime_config.is_config_secret(key)}
    return decode_stack_config(every, secret_keys)


def decode_stack_config(
    config: Mapping[str, Any], secret_keys: Iterable[str]
) -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    """Full keys as Pulumi hands them over (`rocketchat:host` -> its string form) to this project's keys and values,
    decoded, and which of them are secret; then the `kubernetes:` keys (the provider's settings), as they are."""
    prefix = f"{CONFIG_NAMESPACE}:"
    raw = {
        key[len(prefix) :]: _decode(key[len(prefix) :], value)
        for key, value in config.items()
        if key.startswith(prefix)
    }
    provider = {
        key.removeprefix(_PROVIDER_PREFIX): value for key, value in config.items() if key.startswith(_PROVIDER_PREFIX)
    }
    return raw, {key[len(prefix) :] for key in secret_keys if key.startswith(prefix)}, provider


def _decode(key: str, value: Any) -> Any:
    """Pulumi hands every config value over as a string; objects, numbers and booleans as JSON text."""
    if key in _STRING_KEYS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def load_settings(
    stack: str,
    raw: Mapping[str, Any],
    secret_keys: Iterable[str] = (),
    provider_config: Mapping[str, Any] = {},
    deployed: Deployed | None = None,
) -> Settings:
    """Validate the stack's `rocketchat:` keys (and the one provider setting the program relies on) and derive the
    settings, or raise ConfigError naming every problem. `deployed` is what the stack's last update left running:
    changes that would collide with it are refused too."""
    problems: list[str] = []
    failed: set[tuple[Any, ...]] = set()
    try:
        config = StackConfig.model_validate(dict(raw))
    except ValidationError as error:
        for detail in error.errors():
            problems.append(_describe(detail))
            failed.add(tuple(detail["loc"]))
        # Validate again without the broken values (their defaults stand in) so that the rules across keys can
        # report their problems in the same run.
        config = _validate_without(raw, failed)

    warnings: list[str] = []
    problems += _cross_key_problems(stack, config, failed, set(secret_keys), raw)
    problems += _provider_problems(provider_config)
    if deployed is not None and not failed:
        problems += _deployed_problems(config, deployed)
    if problems:
        raise ConfigError(stack_file(stack), problems)

    version = Version.parse(config.version or "")
    workloads = _plan_workloads(stack, config, version, warnings)
    if not config.create_namespace:
        warnings.append(
            f"rocketchat:createNamespace is false: namespace {config.namespace} must exist before `pulumi up`, and it "
            "is its owner's, labels included: its Pod Security labels are theirs to set (every pod of this stack "
            "meets pod-security.kubernetes.io/enforce=restricted)"
        )
    if config.mode == "raw" and "chart" in raw:
        warnings.append("rocketchat:chart is ignored in raw mode")
    if config.mode == "helm" and any(p.workload.key == "streamHub" for p in workloads):
        warnings.append(
            f"Rocket.Chat {version} runs stream-hub, and the official chart rolls it out with maxSurge 1: two "
            "stream-hubs run side by side during every upgrade (the policy pack rejects this); mode 'raw' uses Recreate"
        )
    return Settings(stack=stack, config=config, version=version, workloads=workloads, warnings=tuple(warnings))


def _validate_without(raw: Mapping[str, Any], failed: set[tuple[Any, ...]]) -> StackConfig:
    pruned = copy.deepcopy(dict(raw))
    for loc in sorted(failed, key=lambda path: (len(path), [str(part) for part in path]), reverse=True):
        node: Any = pruned
        for part in loc[:-1]:
            node = node[part] if isinstance(node, (dict, list)) and _has(node, part) else None
        if isinstance(node, (dict, list)) and _has(node, loc[-1]):
            del node[loc[-1]]
    try:
        return StackConfig.model_validate(pruned)
    except ValidationError:  # a broken list item shifted its neighbours: drop the whole top-level keys instead
        return StackConfig.model_validate({k: v for k, v in raw.items() if k not in {loc[0] for loc in failed}})


def _has(node: dict | list, part: Any) -> bool:
    return part in node if isinstance(node, dict) else isinstance(part, int) and 0 <= part < len(node)


def _broken(failed: set[tuple[Any, ...]], *path: str) -> bool:
    """Whether the value at `path` (or anything around or inside it) failed validation."""
    return any(loc[: len(path)] == path or path[: len(loc)] == loc for loc in failed)


def _key(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{CONFIG_NAMESPACE}:{text}"


def _allowed_keys(path: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at `path` (the parent of an unknown key)."""
    model: Any = StackConfig
    for part in path:
        if isinstance(part, int):
            continue
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        annotation = fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for candidate in candidates:
            inner = getattr(candidate, "__args__", None)
            if inner and isinstance(inner[0], type) and issubclass(inner[0], BaseModel):
                candidate = inner[0]  # list[Model]
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _describe(detail: Mapping[str, Any]) -> str:
    loc = tuple(detail["loc"])
    key = _key(loc)
    kind = detail["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        suggestion = _suggest(loc, allowed)
        return f"{key}: unknown key{suggestion}; allowed keys here: {', '.join(allowed)}"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if loc and loc[0] in SECRET_KEYS:
        return f"{key}: {message}"
    got = detail.get("input")
    shown = "" if isinstance(got, dict) or repr(got) in message else f" (got {json.dumps(got, default=str)})"
    return f"{key}: {message}{shown}"


def _leaf_paths(model: type[BaseModel] = StackConfig, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, info in model.model_fields.items():
        path = (*prefix, info.alias or name)
        paths.append(path)
        nested = [a for a in (info.annotation, *getattr(info.annotation, "__args__", ())) if isinstance(a, type)]
        for candidate in nested:
            if issubclass(candidate, BaseModel):
                paths += _leaf_paths(candidate, path)
    return paths


def _suggest(loc: tuple[Any, ...], allowed: list[str]) -> str:
    """A hint for a misspelt key: a sibling that looks alike, or else a key of that name elsewhere."""
    typo = str(loc[-1])
    close = difflib.get_close_matches(typo, allowed, n=1)
    if close:
        return f" (did you mean '{_key((*loc[:-1], close[0]))}'?)"
    elsewhere = [p for p in _leaf_paths() if difflib.get_close_matches(typo, [p[-1]], n=1, cutoff=0.8)]
    if elsewhere:
        return f" (did you mean {' or '.join(repr(_key(p)) for p in elsewhere[:3])}?)"
    return ""


def _cross_key_problems(
    stack: str, config: StackConfig, failed: set[tuple[Any, ...]], secret_keys: set[str], raw: Mapping[str, Any]
) -> list[str]:
    problems = [
        f"{_key([name])}: required; {how}"
        for name, how in _REQUIRED.items()
        if not _broken(failed, name) and getattr(config, name) is None
    ]

    for name in SECRET_KEYS:
        if name in raw and not _broken(failed, name) and name not in secret_keys:
            problems.append(
                f"{_key([name])}: must be stored encrypted; run "
                f"`{set_secret_command(stack, name, '...')}` (its value is not shown here)"
            )

    if not _broken(failed, "namespace") and not _broken(failed, "createNamespace"):
        problems += _namespace_problems(config)

    if not _broken(failed, "mongoUrl") and not _broken(failed, "mongodb", "inCluster"):
        problems += _mongo_source_problems(stack, config)

    if not _broken(failed, "nats", "bundled") and config.nats.bundled and config.mode == "raw":
        problems.append(
            f"{_key(['nats', 'bundled'])}: only helm mode has the chart's bundled NATS; remove it or use mode 'helm'"
        )

    stream_hub_keys = ("version", "microservices", "mode")
    if (
        config.version
        and not any(_broken(failed, key) for key in stream_hub_keys)
        and not _broken(failed, "services", "streamHub", "enabled")
    ):
        problems += _stream_hub_problems(config, Version.parse(config.version))
        if config.mode == "helm":
            problems += _chart_stream_hub_problems(config, Version.parse(config.version))
    return problems


def _namespace_problems(config: StackConfig) -> list[str]:
    if config.namespace in RESERVED_NAMESPACES:
        return [
            (
                f"{_key(['namespace'])}: {config.namespace!r} belongs to Kubernetes itself; choose a namespace of the "
                f"workspace's own, e.g. rocketchat (never {', '.join(RESERVED_NAMESPACES)})"
            )
        ]
    if config.namespace == "default" and config.create_namespace:
        return [
            (
                f"{_key(['namespace'])}: 'default' always exists and is not this stack's to create (or to delete on "
                "`pulumi destroy`); choose another namespace, or set rocketchat:createNamespace to false to deploy "
                "into it"
            )
        ]
    return []


def _deployed_problems(config: StackConfig, deployed: Deployed) -> list[str]:
    """Changes one `pulumi up` cannot make safely over what runs, each with the way that works."""
    mode = config.mode
    release = config.chart.release_name
    instance = config.instance or (release if mode == "helm" else DEFAULT_RAW_INSTANCE)
    problems = []
    if mode != deployed.mode and config.mongodb.in_cluster is not None:
        problems.append(
            f"{_key(['mode'])}: this stack runs in {deployed.mode} mode with an in-cluster MongoDB, and the other mode "
            "keeps its database elsewhere (raw: the MongoReplicaSet; helm: the chart's bundled MongoDB): switching "
            f"would start Rocket.Chat on an empty database. Keep mode '{deployed.mode}', or move the data to an "
            "external replica set (rocketchat:mongoUrl) first"
        )
    elif deployed.mode == "raw" and mode == "helm" and release == deployed.instance:
        problems.append(
            f"{_key(['chart', 'releaseName'])}: the chart names its objects '{release}-<workload>', the names of this "
            f"stack's raw workloads, which still run (its last `pulumi up` was in raw mode): Helm would refuse to "
            "take them over, and Pulumi removes the raw ones only at the end of the update. Give the release another "
            "name and keep the instance, and the chart's pods start beside the raw ones, the Ingress moves to them "
            f"once they are ready, and the raw ones go at the end of the same `up`: `pulumi config set --path "
            f"{CONFIG_NAMESPACE}:chart.releaseName {release}-chart` and `pulumi config set {CONFIG_NAMESPACE}:instance "
            f"{deployed.instance}`"
        )
    elif deployed.mode == "helm" and mode == "raw" and instance == deployed.release_name:
        problems.append(
            f"{_key(['mode'])}: this stack runs the chart's release '{deployed.release_name}' (its last `pulumi up`), "
            f"whose objects are named '{deployed.release_name}-<workload>' as raw mode would name its own: "
            "Kubernetes would refuse the raw ones while the chart's run, and Pulumi removes the release only at the "
            "end of the update. Switch in two updates, neither with downtime: first, still in helm mode, move the "
            f"release to another name and keep the instance (`pulumi config set {CONFIG_NAMESPACE}:mode helm`, "
            f"`pulumi config set --path {CONFIG_NAMESPACE}:chart.releaseName {deployed.release_name}-chart`, "
            f"`pulumi config set {CONFIG_NAMESPACE}:instance {deployed.instance}`, `pulumi up`); then "
            f"`pulumi config set {CONFIG_NAMESPACE}:mode raw` and `pulumi up`"
        )
    elif instance != deployed.instance:
        problems.append(
            f"{_key(['instance'])}: this stack's own objects (NATS, its Secrets, NetworkPolicies and Ingress, and raw "
            f"mode's workloads) carry the instance '{deployed.instance}' in their names and labels (its last `pulumi "
            f"up`); '{instance}' would delete and recreate them, the NATS cluster with them. Keep it: "
            f"`pulumi config set {CONFIG_NAMESPACE}:instance {deployed.instance}`"
        )
    return problems


def _provider_problems(provider_config: Mapping[str, Any]) -> list[str]:
    value = provider_config.get(SECRET_MUTABLE_KEY)
    if str(value).lower() == "true":
        return []
    key = f"{_PROVIDER_PREFIX}{SECRET_MUTABLE_KEY}"
    return [
        (
            f"{key}: must be true (got {json.dumps(value)}), so that a new rocketchat:mongoUrl, rocketchat:license or "
            "NATS password updates its Secret in place and rolls the pods that read it; without it the Kubernetes "
            "provider deletes the Secret and creates it again, and every Deployment reading it with it (all those "
            f"pods down at once). Run `pulumi config set {key} true`"
        )
    ]


def _chart_stream_hub_problems(config: StackConfig, version: Version) -> list[str]:
    """The official chart draws its stream-hub line at `<=7.7.0`, not `<7.7`, and applies it to a monolith too."""
    if version > CHART_STREAM_HUB_REQUIRED_UP_TO:
        return []
    if not config.microservices:
        return [
            (
                f"{_key(['microservices'])}: the official chart refuses to render a monolith-only release of "
                f"Rocket.Chat {version} (its stream-hub check fails up to 7.7.0); use microservices: true, "
                "mode 'raw', or 7.7.1 or later"
            )
        ]
    if version >= STREAM_HUB_OPTIONAL_FROM and not config.services.stream_hub.enabled:
        return [
            (
                f"{_key(['services', 'streamHub', 'enabled'])}: the official chart requires stream-hub for "
                f"Rocket.Chat {version} (its check fails up to 7.7.0); set it to true or run 7.7.1 or later"
            )
        ]
    return []


def _mongo_source_problems(stack: str, config: StackConfig) -> list[str]:
    in_cluster = config.mongodb.in_cluster is not None
    url = config.mongo_url.get_secret_value() if config.mongo_url else None
    if in_cluster and url:
        return [
            (
                f"{_key(['mongodb', 'inCluster'])}: choose one MongoDB source: remove rocketchat:mongodb.inCluster "
                "or the rocketchat:mongoUrl secret"
            )
        ]
    if not in_cluster and not url:
        return [
            (
                f"{_key(['mongoUrl'])}: no MongoDB source: this secret is the MongoDB replica set Rocket.Chat keeps "
                f"all its data in, and the stack runs no database of its own. Set it with "
                f"`{set_secret_command(stack, 'mongoUrl', EXAMPLE_MONGO_URL)}`, or set rocketchat:mongodb.inCluster "
                "(development)"
            )
        ]
    if url and not url.startswith(("mongodb://", "mongodb+srv://")):
        return [f"{_key(['mongoUrl'])}: must start with mongodb:// or mongodb+srv:// (value not shown)"]
    if url and url.startswith("mongodb://") and "replicaSet=" not in url:
        return [
            (
                f"{_key(['mongoUrl'])}: must name the replica set (…?replicaSet=rs0): Rocket.Chat needs change "
                "streams, which only replica sets have (value not shown)"
            )
        ]
    return []


def _stream_hub_problems(config: StackConfig, version: Version) -> list[str]:
    enabled = config.services.stream_hub.enabled
    key = _key(["services", "streamHub", "enabled"])
    rule = stream_hub_rule(version)
    if not config.microservices:
        return []
    if rule is StreamHubRule.REQUIRED and enabled is False:
        return [f"{key}: Rocket.Chat {version} (before 7.7) needs stream-hub; remove the key or set it to true"]
    if rule is StreamHubRule.REMOVED and enabled:
        return [
            f"{key}: stream-hub was removed in Rocket.Chat 8.0 and {version} has none; remove it or set it to false"
        ]
    return []


def _stream_hub_enabled(config: StackConfig, version: Version) -> bool:
    rule = stream_hub_rule(version)
    if rule is StreamHubRule.REQUIRED:
        return True
    if rule is StreamHubRule.REMOVED:
        return False
    return bool(config.services.stream_hub.enabled)


def ddp_streamer_replicas_for(concurrent_users: int) -> int:
    """One ddp-streamer pod per 500 concurrent users, at least one."""
    return max(1, math.ceil(concurrent_users / USERS_PER_DDP_STREAMER))


def resolve_resources(defaults: ResourceDefaults, overrides: Resources) -> tuple[dict[str, str], dict[str, str]]:
    """Requests and limits: the catalog's defaults with the stack's `resources` block laid over them."""
    return (
        defaults.requests | overrides.requests.model_dump(exclude_none=True),
        defaults.limits | overrides.limits.model_dump(exclude_none=True),
    )


_SERVICE_FIELDS = {f.alias or name: name for name, f in ServicesConfig.model_fields.items()}


def _plan_workloads(stack: str, config: StackConfig, version: Version, warnings: list[str]) -> tuple[WorkloadPlan, ...]:
    monolith_requests, monolith_limits = resolve_resources(MONOLITH.resources, config.monolith.resources)
    plans = [WorkloadPlan(MONOLITH, config.monolith.replicas, monolith_requests, monolith_limits)]
    if not config.microservices:
        return tuple(plans)

    needed_streamers = ddp_streamer_replicas_for(config.concurrent_users)
    for workload in MICROSERVICES:
        service_config: WorkloadConfig | StreamHubConfig = getattr(config.services, _SERVICE_FIELDS[workload.key])
        if workload.key == "streamHub" and not _stream_hub_enabled(config, version):
            continue
        replicas = service_config.replicas
        if workload.key == "ddpStreamer":
            if replicas is None:
                replicas = needed_streamers
            elif replicas < needed_streamers:
                warnings.append(
                    f"rocketchat:services.ddpStreamer.replicas is {replicas}, below the {needed_streamers} pods "
                    f"that {config.concurrent_users} concurrent users need (one per {USERS_PER_DDP_STREAMER})"
                )
        replicas = replicas or 1
        if replicas > 1 and workload.scaling != "free" and config.license is None:
            warnings.append(
                f"rocketchat:services.{workload.key}.replicas is {replicas} but no rocketchat:license is set: "
                "without an Enterprise licence every pod beyond the first exits after about 40 seconds; set it with "
                f"`{set_secret_command(stack, 'license', EXAMPLE_LICENSE)}`"
            )
        requests, limits = resolve_resources(workload.resources, service_config.resources)
        plans.append(WorkloadPlan(workload, replicas, requests, limits))
    return tuple(plans)


def settings_from_pulumi() -> Settings:
    """The entry point for `__main__.py`: this stack's config, validated."""
    return load_settings(pulumi.get_stack(), *read_stack_config(), deployed=read_deployed())


__all__ = [
    "ConfigError",
    "Settings",
    "StackConfig",
    "WorkloadPlan",
    "ddp_streamer_replicas_for",
    "decode_stack_config",
    "load_settings",
    "settings_from_pulumi",
]
