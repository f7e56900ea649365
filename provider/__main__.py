"""The component package's plugin: hosts the components for Pulumi programs in any language.

`pulumi package add` (or a Pulumi YAML program's `packages:`) runs this with the Python language host; Pulumi's
component provider derives the package schema from the components' args and outputs types.
"""

import sys
from pathlib import Path

# The components are this repository's package, one directory up (the plugin runs from this directory).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host

from components import __version__
from components.gateway import RocketChatRoute
from components.ingress import RocketChatIngress
from components.microservices import MicroserviceSet
from components.nats import NatsCluster
from components.observability import StackMonitoring
from components.stack import RocketChatStack

PACKAGE = "rocketchat"
"""The package name: the components' type tokens are `rocketchat:index:<Component>`, in programs of any language as
in this repository's own."""
COMPONENTS = [RocketChatStack, NatsCluster, RocketChatIngress, RocketChatRoute, MicroserviceSet, StackMonitoring]

if __name__ == "__main__":
    component_provider_host(components=COMPONENTS, name=PACKAGE, version=__version__)
