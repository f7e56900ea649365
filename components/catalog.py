"""The one table of Rocket.Chat workloads.

Raw Deployments, Services, PDBs and NetworkPolicies, and the Helm values for the official chart, are all
renderings of this table: a new service, a changed port or a different probe is one edit here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DEFAULT_INSTANCE = "rocketchat"
"""Names and labels a stack's own objects unless told otherwise (`<instance>-<workload>`, the instance label)."""

APP_PORT = 3000
"""Every Rocket.Chat process listens here once `PORT` is set (the services default to 3031-4000 otherwise)."""

MOLECULER_METRICS_PORT = 9458
MONOLITH_PROMETHEUS_PORT = 9100
HEALTH_PATH = "/health"
"""The services' probe path in every version; the monolith's paths go by version (components/version_table.py)."""

# Images run as this user (the service images declare it; we pin the monolith to the same one).
ROCKETCHAT_UID = 65533


@dataclass(frozen=True)
class ServicePort:
    """A Kubernetes Service in front of a workload (only the monolith and ddp-streamer take traffic)."""

    port: int
    """The Service's port; it forwards to the container's `http` port (APP_PORT)."""
    client_ip_affinity: bool = False


@dataclass(frozen=True)
class ResourceDefaults:
    cpu_request: str
    memory_request: str
    memory_limit: str
    cpu_limit: str | None = None

    @property
    def requests(self) -> dict[str, str]:
        return {"cpu": self.cpu_request, "memory": self.memory_request}

    @property
    def limits(self) -> dict[str, str]:
        return {"memory": self.memory_limit} | ({"cpu": self.cpu_limit} if self.cpu_limit else {})


@dataclass(frozen=True)
class Workload:
    """One Rocket.Chat workload and everything both deployment modes need to know about it."""

    key: str
    """Settings and Helm values key (`services.<key>` / `microservices.<key>`)."""
    name: str
    """Kubernetes name suffix: `<prefix>-<name>`; also the `app.kubernetes.io/component` label."""
    image: str
    resources: ResourceDefaults
    service: ServicePort | None = None
    metrics_ports: tuple[int, ...] = (MOLECULER_METRICS_PORT,)
    scaling: Literal["free", "licensed", "singleton"] = "licensed"
    """free: scales without a licence; licensed: extra pods exit without one; singleton: exactly one pod."""
    strategy: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    writable_paths: tuple[str, ...] = ("/tmp",)
    """Paths the process writes to; each gets an emptyDir so the root filesystem can stay read-only."""
    extra_env: dict[str, str] = field(default_factory=dict)
    reads_client_address: bool = False
    """Takes the client's address from X-Forwarded-For, `HTTP_FORWARDED_COUNT` proxies back (docs/rocketchat-facts.md:
    the monolith's remote-address middleware, defaulting to 1; ddp-streamer's clients, defaulting to 0)."""

    @property
    def is_monolith(self) -> bool:
        return self.key == MONOLITH.key

    @property
    def container_ports(self) -> dict[str, int]:
        names = {MOLECULER_METRICS_PORT: "moleculer", MONOLITH_PROMETHEUS_PORT: "metrics"}
        return {"http": APP_PORT} | {names[p]: p for p in self.metrics_ports}


MONOLITH = Workload(
    key="monolith",
    name="rocketchat",
    image="registry.rocket.chat/rocketchat/rocket.chat",
    resources=ResourceDefaults(cpu_request="500m", memory_request="1Gi", memory_limit="2Gi"),
    service=ServicePort(port=80),
    metrics_ports=(MONOLITH_PROMETHEUS_PORT, MOLECULER_METRICS_PORT),
    scaling="free",
    writable_paths=("/tmp", "/app/uploads"),
    reads_client_address=True,
    extra_env={
        "DEPLOY_PLATFORM": "pulumi",
        "OVERWRITE_SETTING_Prometheus_Enabled": "true",
        "OVERWRITE_SETTING_Prometheus_Port": str(MONOLITH_PROMETHEUS_PORT),
    },
)

ACCOUNT = Workload(
    key="account",
    name="account",
    image="docker.io/rocketchat/account-service",
    resources=ResourceDefaults(cpu_request="100m", memory_request="256Mi", memory_limit="512Mi"),
)
AUTHORIZATION = Workload(
    key="authorization",
    name="authorization",
    image="docker.io/rocketchat/authorization-service",
    resources=ResourceDefaults(cpu_request="100m", memory_request="256Mi", memory_limit="512Mi"),
)
PRESENCE = Workload(
    key="presence",
    name="presence",
    image="docker.io/rocketchat/presence-service",
    resources=ResourceDefaults(cpu_request="100m", memory_request="256Mi", memory_limit="512Mi"),
)
DDP_STREAMER = Workload(
    key="ddpStreamer",
    name="ddp-streamer",
    image="docker.io/rocketchat/ddp-streamer-service",
    resources=ResourceDefaults(cpu_request="250m", memory_request="512Mi", memory_limit="1Gi"),
    # SockJS/XHR fallbacks poll: every request of a session must reach the same pod.
    service=ServicePort(port=APP_PORT, client_ip_affinity=True),
    reads_client_address=True,
)
FORWARDED_COUNT_ENV = "HTTP_FORWARDED_COUNT"
STREAM_HUB = Workload(
    key="streamHub",
    name="stream-hub",
    image="docker.io/rocketchat/stream-hub-service",
    resources=ResourceDefaults(cpu_request="100m", memory_request="256Mi", memory_limit="512Mi"),
    scaling="singleton",
    # Two stream-hubs would publish every database change twice: never overlap, not even in a rollout.
    strategy="Recreate",
    # Which versions run it is a rule of its own (components/versions.py: stream_hub_rule).
)

WORKLOADS: tuple[Workload, ...] = (MONOLITH, ACCOUNT, AUTHORIZATION, PRESENCE, DDP_STREAMER, STREAM_HUB)
MICROSERVICES: tuple[Workload, ...] = tuple(w for w in WORKLOADS if not w.is_monolith)
WORKLOADS_BY_KEY: dict[str, Workload] = {w.key: w for w in WORKLOADS}

# The broker settings every Rocket.Chat process shares. RETRY_ENABLED must be the string "true":
# anything else (the official chart sets "yes") leaves Moleculer retries off.
BROKER_ENV: dict[str, str] = {
    "MOLECULER_LOG_LEVEL": "warn",
    "HEARTBEAT_INTERVAL": "10",
    "HEARTBEAT_TIMEOUT": "30",
    "REQUEST_TIMEOUT": "60",
    "RETRY_ENABLED": "true",
    "MS_METRICS": "true",
    "MS_METRICS_PORT": str(MOLECULER_METRICS_PORT),
    "PORT": str(APP_PORT),
}

NATS_IMAGE = "docker.io/library/nats:2.12.1-alpine"
NATS_RESOURCES = ResourceDefaults(cpu_request="50m", memory_request="64Mi", memory_limit="256Mi")
NATS_EXPORTER_IMAGE = "docker.io/natsio/prometheus-nats-exporter:0.18.0"
NATS_EXPORTER_RESOURCES = ResourceDefaults(cpu_request="10m", memory_request="32Mi", memory_limit="64Mi")
# The nats image declares no user (it would run as root) and needs none: any UID that can read the mounted config.
# At or above 10000 so that it cannot coincide with an account on the node (checkov CKV_K8S_40).
NATS_UID = 10001
MONGODB_IMAGE = "docker.io/library/mongo:7.0.25"
MONGODB_RESOURCES = ResourceDefaults(cpu_request="250m", memory_request="512Mi", memory_limit="1Gi")
# The image's own `mongodb` user is 999, but mongod runs as any UID that can write /data/db; the pod's fsGroup makes
# the volume group-writable. A high UID for the same reason as NATS_UID.
MONGODB_UID = 10002
