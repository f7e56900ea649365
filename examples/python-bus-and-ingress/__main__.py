"""A program of another team that reuses two components with values of its own: an authenticated NATS cluster for
its services, and the Rocket.Chat Ingress in front of a web Deployment of its own (it serves `/` and `/websocket`)."""

import pulumi
from pulumi_kubernetes.apps import v1 as apps
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from components.ingress import RocketChatIngress
from components.nats import NatsCluster

config = pulumi.Config()
namespace_name = config.get("namespace") or "chat-bridge"
host = config.require("host")

namespace = core.Namespace(namespace_name, metadata=meta.ObjectMetaArgs(name=namespace_name))
bus = NatsCluster(
    "bus",
    {"namespace": namespace.metadata.name, "replicas": 3, "instance": "bridge"},
    opts=pulumi.ResourceOptions(depends_on=[namespace]),
)
bus_secret = core.Secret(
    "bridge-bus",
    metadata=meta.ObjectMetaArgs(namespace=namespace.metadata.name),
    string_data={"url": bus.client_url},
)

labels = {"app.kubernetes.io/name": "bridge"}
bridge = apps.Deployment(
    "bridge",
    metadata=meta.ObjectMetaArgs(namespace=namespace.metadata.name, labels=labels),
    spec=apps.DeploymentSpecArgs(
        replicas=2,
        selector=meta.LabelSelectorArgs(match_labels=labels),
        template=core.PodTemplateSpecArgs(
            metadata=meta.ObjectMetaArgs(labels=labels),
            spec=core.PodSpecArgs(
                containers=[
                    core.ContainerArgs(
                        name="bridge",
                        image="registry.example.com/team/bridge:1.4.2",
                        ports=[core.ContainerPortArgs(name="http", container_port=8080)],
                        env=[
                            core.EnvVarArgs(
                                name="NATS_URL",
                                value_from=core.EnvVarSourceArgs(
                                    secret_key_ref=core.SecretKeySelectorArgs(name=bus_secret.metadata.name, key="url")
                                ),
                            )
                        ],
                    )
                ]
            ),
        ),
    ),
)
service = core.Service(
    "bridge",
    metadata=meta.ObjectMetaArgs(namespace=namespace.metadata.name, labels=labels),
    spec=core.ServiceSpecArgs(selector=labels, ports=[core.ServicePortArgs(name="http", port=80, target_port="http")]),
    opts=pulumi.ResourceOptions(depends_on=[bridge]),
)
ingress = RocketChatIngress(
    "bridge",
    {
        "namespace": namespace.metadata.name,
        "host": host,
        "monolith_service": service.metadata.name,
        "ddp_streamer_service": service.metadata.name,
        "class_name": "nginx",
        "instance": "bridge",
    },
)

pulumi.export("natsUrl", bus.client_url)
pulumi.export("address", ingress.address)
