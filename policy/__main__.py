"""The Rocket.Chat policy pack: `pulumi preview --policy-pack policy` (or `pulumi up --policy-pack policy`).

The rules live in rocketchat_rules.py as pure functions (tested offline against the recording engine's resources);
rocketchat_policies.py wraps each as a mandatory ResourceValidationPolicy.
"""

from pulumi_policy import PolicyPack
from rocketchat_policies import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    description="Rocket.Chat on Kubernetes: stream-hub singleton, pinned images and charts, secrets from Secrets, "
    "resources and probes on every container.",
    policies=POLICIES,
)
