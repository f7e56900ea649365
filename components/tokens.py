"""The Pulumi type tokens the program and its tools name, as plain strings: importable without Pulumi."""

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
STACK_TYPE = "rocketchat:index:RocketChatStack"
