"""RocketChatStack: the whole installation, composed for mode `raw` (plain resources) or `helm` (official chart)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from components import k8s
from components.catalog import DDP_STREAMER, MONGODB_RESOURCES, MONOLITH, NATS_RESOURCES
from components.credentials import SecretKey, digest_of
from components.ingress import RocketChatIngress, RocketChatIngressArgs, dns_records
from components.microservices import MicroserviceSet, MicroserviceSetArgs
from components.mongodb import MongoReplicaSet, MongoReplicaSetArgs
from components.nats import NatsCluster, NatsClusterArgs
from components.network import StackNetworkPolicies, StackNetworkPoliciesArgs
from components.passwords import GeneratedPassword
from components.settings import Settings, resolve_resources

MONGO_SECRET_KEY = "mongo-uri"  # the key name the official chart reads
TRANSPORTER_KEY = "transporter"
MONOLITH_TRANSPORTER_KEY = "monolith-transporter"
LICENSE_KEY = "license"


@dataclass
class RocketChatStackArgs:
    settings: Settings


class RocketChatStack(pulumi.ComponentResource):
    """Namespace, NATS, MongoDB (in-cluster or external), Rocket.Chat (raw or Helm), NetworkPolicies and Ingress.

    Its attributes are the stack outputs of the contract (see the README).
    """

    url: str
    host: str
    namespace: pulumi.Output[str]
    mode: str
    version: str
    ingress_address: pulumi.Output[str]
    dns_records: pulumi.Output[list[dict[str, Any]]]
    replicas: dict[str, int]
    instance: str

    def __init__(self, name: str, args: RocketChatStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:RocketChatStack", name, None, opts)
        settings = args.settings
        config = settings.config
        helm = settings.mode == "helm"
        instance = settings.instance
        placement = k8s.Placement(
            tolerations=[t.model_dump(exclude_none=True) for t in config.scheduling.tolerations],
            node_selector=dict(config.scheduling.node_selector),
        )
        child = pulumi.ResourceOptions(parent=self)

        # The namespace: the stack's own, or (createNamespace: false) one its owner made, with their labels and quotas.
        namespace: core.Namespace | None = None
        ns: pulumi.Input[str] = settings.namespace
        if settings.create_namespace:
            namespace = core.Namespace(
                settings.namespace,
                metadata=meta.ObjectMetaArgs(
                    name=settings.namespace,
                    labels={
                        "app.kubernetes.io/part-of": k8s.PART_OF,
                        "app.kubernetes.io/managed-by": "pulumi",
                        # Every pod of this stack meets the restricted Pod Security Standard; the API server
                        # enforces it.
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted",
                    },
                ),
                opts=child,
            )
            ns = namespace.metadata.name
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace] if namespace else None)
        secret_labels = k8s.object_labels(k8s.labels("rocketchat", "credentials", instance))
        # Keys the digests in the pods' rollout annotations (components/credentials.py): made once, kept secret.
        rollout_key = GeneratedPassword("rollout-key", opts=child).result

        def secret(secret_name: str, data: dict[str, pulumi.Input[str]]) -> core.Secret:
            return core.Secret(
                secret_name,
                metadata=k8s.metadata(secret_name, ns, secret_labels),
                type="Opaque",
                string_data={k: pulumi.Output.secret(v) for k, v in data.items()},
                opts=in_ns,
            )

        def read(source: core.Secret | None, name: str, key: str, value: pulumi.Input[str] | None) -> SecretKey | None:
            """A key of one of these Secrets as the pods read it: by its plain name in helm mode (readable values),
            by the Secret's output in raw mode (which also orders the Deployments after it)."""
            if source is None or value is None:
                return None
            return SecretKey(name if helm else source.metadata.name, key, digest_of(rollout_key, value))

        # NATS: ours (authenticated, clustered) unless a helm stack asks for the chart's bundled one.
        nats: NatsCluster | None = None
        bus_secret: core.Secret | None = None
        if not (helm and config.nats.bundled):
            nats_requests, nats_limits = resolve_resources(NATS_RESOURCES, config.nats.resources)
            nats = NatsCluster(
                "nats",
                NatsClusterArgs(
                    namespace=ns,
                    replicas=config.nats.replicas,
                    instance=instance,
                    requests=nats_requests,
                    limits=nats_limits,
                    placement=placement,
                ),
                opts=in_ns,
            )
            bus_urls = {TRANSPORTER_KEY: nats.client_url, MONOLITH_TRANSPORTER_KEY: nats.monolith_client_url}
            bus_secret = secret(f"{instance}-bus", bus_urls)

        # MongoDB: the external replica set from the `mongoUrl` secret, or an in-cluster one for development.
        mongo: MongoReplicaSet | None = None
        mongo_url: pulumi.Input[str] | None = None
        if config.mongo_url is not None:
            mongo_url = pulumi.Output.secret(config.mongo_url.get_secret_value())
        elif config.mongodb.in_cluster is not None and not helm:
            in_cluster = config.mongodb.in_cluster
            mongo_requests, mongo_limits = resolve_resources(MONGODB_RESOURCES, in_cluster.resources)
            mongo = MongoReplicaSet(
                "mongodb",
                MongoReplicaSetArgs(
                    namespace=settings.namespace,
                    replicas=in_cluster.replicas,
                    storage=in_cluster.storage,
                    storage_class_name=in_cluster.storage_class_name,
                    instance=instance,
                    requests=mongo_requests,
                    limits=mongo_limits,
                    placement=placement,
                ),
                opts=in_ns,
            )
            mongo_url = mongo.url
        mongo_secret = secret(f"{instance}-mongodb", {MONGO_SECRET_KEY: mongo_url}) if mongo_url is not None else None
        license_value = config.license.get_secret_value() if config.license else None
        license_secret = secret(f"{instance}-license", {LICENSE_KEY: license_value}) if license_value else None

        # A monolith alone reads `monolith+nats://`: plain `nats://` would switch it into microservices mode.
        transporter_key = TRANSPORTER_KEY if settings.microservices else MONOLITH_TRANSPORTER_KEY
        mongo_read = read(mongo_secret, f"{instance}-mongodb", MONGO_SECRET_KEY, mongo_url)
        transporter_read = read(
            bus_secret, f"{instance}-bus", transporter_key, bus_urls[transporter_key] if bus_secret else None
        )
        license_read = read(license_secret, f"{instance}-license", LICENSE_KEY, license_value)
        # Rocket.Chat starts only once what it reads exists (a component's depends_on reaches its resources).
        needs = pulumi.ResourceOptions(
            parent=self,
            depends_on=[r for r in (namespace, nats, bus_secret, mongo_secret, license_secret) if r is not None],
        )
        if helm:
            from components.release import RocketChatRelease, RocketChatReleaseArgs

            release = RocketChatRelease(
                "rocketchat",
                RocketChatReleaseArgs(
                    settings=settings,
                    namespace=ns,
                    # Plain names, not outputs: the values stay readable in previews; depends_on orders creation.
                    mongo_secret=mongo_read,
                    transporter_secret=transporter_read,
                    license_secret=license_read,
                ),
                opts=needs,
            )
            monolith_service: pulumi.Input[str] = release.monolith_service
            ddp_streamer_service: pulumi.Input[str] | None = release.ddp_streamer_service
            workloads: pulumi.Resource = release
        else:
            assert mongo_read is not None and transporter_read is not None
            microservices = MicroserviceSet(
                "rocketchat",
                MicroserviceSetArgs(
                    namespace=ns,
                    version=str(config.version),
                    root_url=settings.url,
                    workloads=settings.workloads,
                    mongo_url=mongo_read,
                    transporter=transporter_read,
                    license=license_read,
                    instance=instance,
                    placement=placement,
                ),
                opts=needs,
            )
            monolith_service = microservices.service_names[MONOLITH.key]
            ddp_streamer_service = microservices.service_names.get(DDP_STREAMER.key)
            workloads = microservices

        StackNetworkPolicies(
            "network",
            StackNetworkPoliciesArgs(
                namespace=ns,
                instance=instance,
                ingress_namespace=config.ingress.controller_namespace,
                monitoring_namespace=config.monitoring.namespace,
                nats_pods=nats.selector if nats else None,
                mongo_pods=mongo.selector if mongo else None,
                # The chart's own NATS or MongoDB pods have no allow rules here: do not cut them off.
                default_deny=nats is not None and (mongo is not None or mongo_url is not None),
            ),
            # After the workloads: pods that are rolling to carry the instance label keep what they are allowed
            # until they all carry it (and on a first `up`, nothing is denied while the pods start).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[r for r in (namespace, workloads) if r is not None]),
        )

        tls = config.ingress.tls
        ingress = RocketChatIngress(
            instance,
            RocketChatIngressArgs(
                namespace=ns,
                host=settings.host,
                monolith_service=monolith_service,
                ddp_streamer_service=ddp_streamer_service,  # None for a monolith alone: no ddp-streamer runs
                class_name=config.ingress.class_name,
                tls_secret_name=tls.secret_name if tls else None,
                cluster_issuer=tls.cluster_issuer if tls else None,
                sticky_sessions=config.ingress.sticky_sessions,
                annotations=dict(config.ingress.annotations),
                external_dns_prefix=config.dns.annotation_prefix if config.dns.external_dns else None,
                dns_ttl=config.dns.ttl,
                skip_await=config.ingress.skip_await,
                instance=instance,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[workloads]),
        )

        self.url = settings.url
        self.host = settings.host
        self.namespace = ns
        self.mode = settings.mode
        self.version = str(config.version)
        # "" until the controller publishes an address: the engine drops an output whose value is null.
        self.ingress_address = ingress.address.apply(lambda address: address or "")
        self.dns_records = ingress.address.apply(lambda address: dns_records(settings.host, address, config.dns.ttl))
        self.replicas = settings.replicas
        self.instance = instance
        self.register_outputs(
            {
                # Not a stack output: the next run reads it back to keep this stack's objects (deployed.py).
                "instance": self.instance,
                "url": self.url,
                "host": self.host,
                "namespace": self.namespace,
                "mode": self.mode,
                "version": self.version,
                "ingressAddress": self.ingress_address,
                "dnsRecords": self.dns_records,
                "replicas": self.replicas,
            }
        )
