"""The stack config's schema: every `rocketchat:` key, its type, its default and the message a wrong value gets.

Strict pydantic models (`"3"` is not an int, `"yes"` not a bool) that forbid unknown keys (a misspelt key is an error).
Field names are the components' own (snake_case), aliases the stack file's (camelCase): `StackConfig.model_dump()` is
the stack's `RocketChatStackArgs` but for the secrets.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from components.controllers import CONTROLLERS
from components.planning import DEFAULT_TARGET_CPU_PERCENT
from components.quantity import is_quantity
from components.versions import DEFAULT_CHART_REPO, DEFAULT_CHART_VERSION, Version, is_exact_semver

INGRESS_CONTROLLERS = Literal[tuple(CONTROLLERS)]  # type: ignore[valid-type]
MAX_INSTANCE_LENGTH = 40
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


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


def _label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if not _LABEL_NAME.match(name) or (
        prefix and (len(prefix) > 253 or not _DNS_LABEL.match(prefix.replace(".", "-")))
    ):
        raise ValueError(
            f"{value!r} is not a Kubernetes label key: an optional DNS prefix and '/', then at most 63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    return value


def _label_value(value: str) -> str:
    if value and not _LABEL_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit"
        )
    return value


def _quantity(value: str) -> str:
    if not is_quantity(value):
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


class AutoscalingConfig(_Model):
    max_replicas: Replicas = Field(alias="maxReplicas")
    min_replicas: Replicas | None = Field(None, alias="minReplicas")
    """Default: the replicas the workload runs without autoscaling (ddp-streamer: one per 500 concurrent users)."""
    target_cpu_utilization_percentage: Annotated[int, Field(ge=1)] = Field(
        DEFAULT_TARGET_CPU_PERCENT, alias="targetCPUUtilizationPercentage"
    )


class WorkloadConfig(_Model):
    replicas: Replicas | None = None
    resources: Resources = Resources()
    autoscaling: AutoscalingConfig | None = None


class StreamHubConfig(_Model):
    enabled: bool | None = None
    replicas: Annotated[int, Field(ge=1, le=1)] = 1
    resources: Resources = Resources()
    autoscaling: AutoscalingConfig | None = None
    """Never valid (stream-hub runs exactly one pod): accepted here so the rules can say why."""


class ServicesConfig(_Model):
    account: WorkloadConfig = WorkloadConfig()
    authorization: WorkloadConfig = WorkloadConfig()
    presence: WorkloadConfig = WorkloadConfig()
    ddp_streamer: WorkloadConfig = Field(WorkloadConfig(), alias="ddpStreamer")
    stream_hub: StreamHubConfig = Field(StreamHubConfig(), alias="streamHub")


class MonolithConfig(_Model):
    replicas: Replicas = 1
    resources: Resources = Resources()
    autoscaling: AutoscalingConfig | None = None


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
    keep_on_destroy: bool = Field(False, alias="keepOnDestroy")
    """`pulumi destroy` keeps the namespace the stack made, and the in-cluster database's volumes in it."""
    allow_data_loss: bool = Field(False, alias="allowDataLoss")
    """Lets one update delete or abandon the in-cluster database's data (otherwise refused); not passed on."""


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
    enabled: bool | None = None
    """Default: true without a gateway, false with one (both at once while DNS moves from one to the other)."""
    class_name: DnsSubdomain = Field("nginx", alias="className")
    controller: INGRESS_CONTROLLERS | None = None
    """Which controller serves the class (its websocket, body size and sticky settings); default: the controller the
    class name usually means (docs/ingress-controllers.md)."""
    annotations: dict[str, str] = {}
    tls: TlsConfig | None = None
    sticky_sessions: bool = Field(True, alias="stickySessions")
    skip_await: bool = Field(False, alias="skipAwait")
    controller_namespace: DnsLabel = Field("ingress-nginx", alias="controllerNamespace")


class ParentRefConfig(_Model):
    name: DnsSubdomain
    namespace: DnsLabel | None = None
    section_name: DnsSubdomain | None = Field(None, alias="sectionName")


class GatewayConfig(_Model):
    parent_refs: Annotated[list[ParentRefConfig], Field(min_length=1, max_length=32)] = Field(alias="parentRefs")
    """The Gateways (a platform team's) the stack's HTTPRoute attaches to."""
    controller_namespace: DnsLabel | None = Field(None, alias="controllerNamespace")
    """Where the Gateway's proxies run (default: the first Gateway's namespace)."""
    session_persistence: bool = Field(False, alias="sessionPersistence")
    """Cookie persistence on the streaming paths: needs the Gateway API's experimental channel CRDs."""
    https: bool = True
    """The Gateway's listener terminates TLS for the host."""


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
    """PodMonitors for the Rocket.Chat pods and the stack's NATS (with its metrics exporter)."""
    prometheus_rule: bool = Field(False, alias="prometheusRule")
    dashboards: bool = False
    labels: dict[Annotated[str, AfterValidator(_label_key)], Annotated[str, AfterValidator(_label_value)]] = {}
    """Extra labels of the PodMonitors and PrometheusRule (what the Prometheus's selectors look for)."""
    runbook_url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = Field(None, alias="runbookUrl")


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
    gateway: GatewayConfig | None = None
    dns: DnsConfig = DnsConfig()
    scheduling: SchedulingConfig = SchedulingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    mongo_url: SecretStr | None = Field(None, alias="mongoUrl")
    license: SecretStr | None = None
