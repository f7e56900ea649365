"""The stack config's schema: every `rocketchat:` key, its type, its default and the message a wrong value gets.

Strict pydantic models (`"3"` is not an int, `"yes"` not a bool) that forbid unknown keys (a misspelt key is an error).
Field names are the components' own (snake_case), aliases the stack file's (camelCase): `StackConfig.model_dump()` is
the stack's `RocketChatStackArgs` but for the secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StrictBool, StrictInt, model_validator

from components.controllers import CONTROLLERS
from components.planning import DEFAULT_TARGET_CPU_PERCENT
from components.quantity import is_quantity
from components.versions import DEFAULT_CHART_REPO, DEFAULT_CHART_VERSION, is_exact_semver
from stack_config import api_rules

INGRESS_CONTROLLERS = Literal[tuple(CONTROLLERS)]  # type: ignore[valid-type]
MAX_INSTANCE_LENGTH = 40


def _checked(rule: Callable[[str], str | None]) -> Callable[[str], str]:
    """A validator from one of the API server's rules (stack_config/api_rules.py): the value, or why it is refused."""

    def check(value: str) -> str:
        why = rule(value)
        if why is not None:
            raise ValueError(f"{value!r} {why}")
        return value

    return check


def _host(value: str) -> str:
    if "://" in value:
        raise ValueError(f"{value!r} has a scheme: give the bare host name, e.g. chat.example.com")
    if "/" in value:
        raise ValueError(f"{value!r} has a path: give the bare host name, e.g. chat.example.com")
    if "." not in value.strip("."):
        raise ValueError(f"{value!r} is not a fully qualified DNS name such as chat.example.com")
    return _checked(api_rules.ingress_host)(value)


def _semver(value: str) -> str:
    if value.strip().lower() == "latest":
        raise ValueError("'latest' is not allowed: pin an exact version such as 8.6.1 so every pod runs the same code")
    if not is_exact_semver(value):
        raise ValueError(f"{value!r} is not an exact semantic version such as 8.6.1 (or 8.6.1-rc.1)")
    # The version is every image's tag and the `app.kubernetes.io/version` label of the raw workloads.
    return _checked(api_rules.image_tag)(value)


def _chart_version(value: str) -> str:
    if not is_exact_semver(value):
        raise ValueError(
            f"{value!r} is not an exact chart version: ranges and wildcards (^7.0, ~7, 7.x, >=7) are not "
            "allowed; pin one such as 7.0.2"
        )
    return value


def _release_name(value: str) -> str:
    _checked(api_rules.dns_label)(value)
    if len(value) > 53:
        raise ValueError(f"{value!r} is longer than Helm's limit of 53 characters")
    if "nats" in value:
        raise ValueError(
            f"{value!r} contains 'nats', which breaks the chart's TRANSPORTER address; choose another name"
        )
    return value


def _instance(value: str) -> str:
    _checked(api_rules.dns_label)(value)
    if len(value) > MAX_INSTANCE_LENGTH:
        raise ValueError(
            f"{value!r} is longer than {MAX_INSTANCE_LENGTH} characters (it prefixes names such as "
            f"<instance>-default-deny-ingress, which must stay within 63)"
        )
    return value


def _web_address(schemes: tuple[str, ...], example: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in schemes or not rest or any(c.isspace() for c in value):
            allowed = ", ".join(f"{s}://" for s in schemes)
            raise ValueError(f"{value!r} is not an address starting with {allowed} and without blanks, e.g. {example}")
        return value

    return check


def _annotation_prefix(value: str) -> str:
    # external-dns's annotations are `<prefix>hostname` and `<prefix>ttl`: qualified names.
    if not value.endswith("/") or api_rules.dns_subdomain(value[:-1]) is not None:
        raise ValueError(
            f"{value!r} is not an annotation prefix: a DNS subdomain followed by '/', e.g. "
            "external-dns.alpha.kubernetes.io/"
        )
    return value


def _quantity(value: str) -> str:
    if not is_quantity(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 250m, 1, 512Mi or 2Gi")
    return value


DnsLabel = Annotated[str, AfterValidator(_checked(api_rules.dns_label))]
DnsSubdomain = Annotated[str, AfterValidator(_checked(api_rules.dns_subdomain))]
LabelKey = Annotated[str, AfterValidator(_checked(api_rules.qualified_name))]
LabelValue = Annotated[str, AfterValidator(_checked(api_rules.label_value))]
AnnotationKey = Annotated[str, AfterValidator(_checked(api_rules.annotation_key))]
Quantity = Annotated[str, AfterValidator(_quantity)]
"""CPU: cores, or thousandths of one (`250m`)."""
Bytes = Annotated[str, AfterValidator(_quantity), AfterValidator(_checked(api_rules.whole_bytes))]
"""Memory: whole bytes, at least a mebibyte."""
Storage = Annotated[str, AfterValidator(_quantity), AfterValidator(_checked(api_rules.storage))]
Count = Annotated[int, Field(ge=0, le=api_rules.MAX_INT32)]
Replicas = Annotated[int, Field(ge=1, le=api_rules.MAX_INT32)]


class _Model(BaseModel):
    # strict: "3" is not an int and "yes" is not a bool; extra="forbid": a misspelt key is an error. Each key has one
    # spelling, the stack file's (no `populate_by_name`): a field's Python name is an unknown key, so a secret cannot
    # reach the program under another name, past the rule that it be stored encrypted.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ResourceAmounts(_Model):
    cpu: Quantity | None = None
    memory: Bytes | None = None


class Resources(_Model):
    requests: ResourceAmounts = ResourceAmounts()
    limits: ResourceAmounts = ResourceAmounts()


class AutoscalingConfig(_Model):
    max_replicas: Replicas = Field(alias="maxReplicas")
    min_replicas: Replicas | None = Field(None, alias="minReplicas")
    """Default: the replicas the workload runs without autoscaling (ddp-streamer: one per 500 concurrent users)."""
    target_cpu_utilization_percentage: Annotated[int, Field(ge=1, le=api_rules.MAX_INT32)] = Field(
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
    storage: Storage = "8Gi"
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
    repo: Annotated[str, AfterValidator(_web_address(("https", "http", "oci"), DEFAULT_CHART_REPO))] = (
        DEFAULT_CHART_REPO
    )
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
    annotations: dict[AnnotationKey, str] = {}
    tls: TlsConfig | None = None
    sticky_sessions: bool = Field(True, alias="stickySessions")
    skip_await: bool = Field(False, alias="skipAwait")
    controller_namespace: DnsLabel = Field("ingress-nginx", alias="controllerNamespace")
    proxy_hops: Annotated[int, Field(ge=0, le=10)] = Field(1, alias="proxyHops")
    """Proxies in front of Rocket.Chat (1: the ingress controller or gateway; 2 behind a cloud load balancer that adds
    its own X-Forwarded-For hop): Rocket.Chat's HTTP_FORWARDED_COUNT."""


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
    annotation_prefix: Annotated[str, AfterValidator(_annotation_prefix)] = Field(
        "external-dns.alpha.kubernetes.io/", alias="annotationPrefix"
    )


class Toleration(_Model):
    key: str | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: Annotated[int, Field(ge=0, le=api_rules.MAX_EXACT_INTEGER)] | None = Field(
        None, alias="tolerationSeconds"
    )
    """Checked against the other fields with the stack's objects (stack_config/objects.py), key by key."""


IMAGE_KEYS = Literal[
    "monolith", "account", "authorization", "presence", "ddpStreamer", "streamHub", "nats", "natsExporter", "mongodb"
]
"""The stack's images, by the key `images.digests` pins them under: each Rocket.Chat workload, NATS, its exporter,
the in-cluster MongoDB."""


def _registry(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._/-][a-z0-9]+)*)?", value):
        raise ValueError(
            f"{value!r} is not a registry: a host name, an optional :port and an optional path, without a scheme, "
            "e.g. registry.example.com:5000/mirror"
        )
    return value


def _digest(value: str) -> str:
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", value):
        raise ValueError(f"{value!r} is not an image digest: sha256: and 64 lowercase hex digits")
    return value


class ImagesConfig(_Model):
    registry: Annotated[str, AfterValidator(_registry)] | None = None
    """A mirror that serves every image of the stack under the image's own path."""
    pull_secrets: list[DnsSubdomain] = Field([], alias="pullSecrets")
    """Existing image pull Secrets every pod of the stack uses."""
    digests: dict[IMAGE_KEYS, Annotated[str, AfterValidator(_digest)]] = {}
    """Pin images by digest (raw mode's Rocket.Chat images; NATS, its exporter and MongoDB in both modes)."""


class SchedulingConfig(_Model):
    tolerations: list[Toleration] = []
    node_selector: dict[LabelKey, LabelValue] = Field({}, alias="nodeSelector")


class MonitoringConfig(_Model):
    namespace: DnsLabel = "monitoring"
    """Namespace whose pods (Prometheus) may scrape the metrics ports."""
    pod_monitor: bool = Field(False, alias="podMonitor")
    """PodMonitors for the Rocket.Chat pods and the stack's NATS (with its metrics exporter)."""
    prometheus_rule: bool = Field(False, alias="prometheusRule")
    dashboards: bool = False
    labels: dict[LabelKey, LabelValue] = {}
    """Extra labels of the PodMonitors and PrometheusRule (what the Prometheus's selectors look for)."""
    runbook_url: (
        Annotated[str, AfterValidator(_web_address(("https", "http"), "https://runbooks.example.com/chat"))] | None
    ) = Field(None, alias="runbookUrl")


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError(f"{value!r} is not an email address such as admin@example.com")
    return value


def _username(value: str) -> str:
    # Rocket.Chat's default UTF8_User_Names_Validation: letters, digits, '-', '_' and '.'.
    if not re.fullmatch(r"[0-9A-Za-z._-]{1,64}", value):
        raise ValueError(f"{value!r} is not a Rocket.Chat username: letters, digits, '.', '_' or '-', e.g. admin")
    return value


def _pem(value: str) -> str:
    if "-----BEGIN CERTIFICATE-----" not in value or "-----END CERTIFICATE-----" not in value:
        raise ValueError(
            "expected PEM certificates: the CA's certificates as text, each between -----BEGIN CERTIFICATE----- and "
            '-----END CERTIFICATE----- (e.g. `pulumi config set rocketchat:trustedCA -- "$(cat ca.pem)"`)'
        )
    return value


class AdminConfig(_Model):
    username: Annotated[str, AfterValidator(_username)]
    email: Annotated[str, AfterValidator(_email)]
    name: str | None = None


class SmtpConfig(_Model):
    host: DnsSubdomain
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    username: str | None = None
    from_email: Annotated[str, AfterValidator(_email)] | None = Field(None, alias="from")
    protocol: Literal["smtp", "smtps"] = "smtp"
    ignore_tls: bool | None = Field(None, alias="ignoreTls")


class S3Config(_Model):
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    region: str | None = None
    endpoint: Annotated[str, AfterValidator(_web_address(("https", "http"), "https://minio.example.com"))] | None = None
    force_path_style: bool | None = Field(None, alias="forcePathStyle")


class FilesystemUploadsConfig(_Model):
    size: Quantity = "10Gi"
    storage_class_name: DnsSubdomain | None = Field(None, alias="storageClassName")
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce"] = Field("ReadWriteMany", alias="accessMode")


class UploadsConfig(_Model):
    storage: Literal["gridfs", "s3", "filesystem"] | None = None
    s3: S3Config | None = None
    filesystem: FilesystemUploadsConfig | None = None
    tmp_size: Quantity | None = Field(None, alias="tmpSize")


class StackConfig(_Model):
    """The `rocketchat:` keys exactly as a stack file spells them (see the README for each)."""

    mode: Literal["helm", "raw"] | None = None
    host: Annotated[str, AfterValidator(_host)] | None = None
    namespace: DnsLabel = "rocketchat"
    create_namespace: bool = Field(True, alias="createNamespace")
    instance: Annotated[str, AfterValidator(_instance)] | None = None
    version: Annotated[str, AfterValidator(_semver)] | None = None
    microservices: bool = True
    concurrent_users: Count = Field(0, alias="concurrentUsers")
    monolith: MonolithConfig = MonolithConfig()
    services: ServicesConfig = ServicesConfig()
    nats: NatsConfig = NatsConfig()
    mongodb: MongoConfig = MongoConfig()
    chart: ChartConfig = ChartConfig()
    ingress: IngressConfig = IngressConfig()
    gateway: GatewayConfig | None = None
    dns: DnsConfig = DnsConfig()
    scheduling: SchedulingConfig = SchedulingConfig()
    images: ImagesConfig = ImagesConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    settings: dict[str, StrictBool | StrictInt | str] = {}
    """Rocket.Chat setting id -> value, forced on every start (checked against Rocket.Chat's catalog)."""
    admin: AdminConfig | None = None
    smtp: SmtpConfig | None = None
    uploads: UploadsConfig = UploadsConfig()
    trusted_ca: Annotated[str, AfterValidator(_pem)] | None = Field(None, alias="trustedCA")
    mongo_url: SecretStr | None = Field(None, alias="mongoUrl")
    license: SecretStr | None = None
    secret_settings: dict[str, SecretStr] = Field({}, alias="secretSettings")
    admin_password: SecretStr | None = Field(None, alias="adminPassword")
    smtp_password: SecretStr | None = Field(None, alias="smtpPassword")
