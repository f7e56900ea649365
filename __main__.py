"""Rocket.Chat on Kubernetes: the stack config, read once, becomes RocketChatStack's args; the outputs contract."""

import gc

# A Pulumi program allocates fast and frees little, and what it imports lives as long as the process. Freezing that,
# before and after the imports, spares the collector from rescanning a hundred thousand long-lived module objects each
# time importing or registering resources sets off a collection, and once more at exit: about 0.6 s of a 2 s run
# (scripts/bench.py).
gc.freeze()

import pulumi  # noqa: E402

from components.stack import RocketChatStack  # noqa: E402
from stack_config import settings_from_pulumi  # noqa: E402

gc.freeze()

settings = settings_from_pulumi()  # raises before any resource exists when the config is bad
for warning in settings.warnings:
    pulumi.log.warn(warning)

stack = RocketChatStack("rocketchat", settings.args)

pulumi.export("url", stack.url)
pulumi.export("host", stack.host)
pulumi.export("namespace", stack.namespace)
pulumi.export("mode", stack.mode)
pulumi.export("version", stack.version)
pulumi.export("ingressAddress", stack.ingress_address)
pulumi.export("gatewayAddress", stack.gateway_address)
pulumi.export("servedBy", stack.served_by)
pulumi.export("dnsRecords", stack.dns_records)
pulumi.export("replicas", stack.replicas)
