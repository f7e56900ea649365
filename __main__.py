"""Rocket.Chat on Kubernetes: read the stack's config once, compose the stack, export the outputs contract."""

import pulumi

from components.settings import settings_from_pulumi
from components.stack import RocketChatStack, RocketChatStackArgs

settings = settings_from_pulumi()  # raises before any resource exists when the config is bad
for warning in settings.warnings:
    pulumi.log.warn(warning)

stack = RocketChatStack("rocketchat", RocketChatStackArgs(settings=settings))

pulumi.export("url", stack.url)
pulumi.export("host", stack.host)
pulumi.export("namespace", stack.namespace)
pulumi.export("mode", stack.mode)
pulumi.export("version", stack.version)
pulumi.export("ingressAddress", stack.ingress_address)
pulumi.export("dnsRecords", stack.dns_records)
pulumi.export("replicas", stack.replicas)
