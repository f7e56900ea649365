"""A matrix of invalid configurations, each applied to the real stack files and run through the real program.

Every case must end in one ConfigError that names the exact key, names the stack file, shows no secret value, and
leaves NOTHING registered: the program validates the whole config before it creates its first resource.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from stack_config import ConfigError
from tools.engine import PLACEHOLDER_SECRETS, PROJECT_DIR, Recording, Secret, run_program

MONGO_PASSWORD = "Hunter2-do-not-print"


def stack_value(stack: str, key: str) -> Any:
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(document["config"].get(f"rocketchat:{key}"))


def patched(stack: str, key: str, patch: dict[str, Any]) -> dict[str, Any]:
    """The stack file's object under `rocketchat:<key>` with `patch` merged in (nested dicts merged, not replaced)."""

    def merge(base: Any, change: dict[str, Any]) -> dict[str, Any]:
        merged = dict(base) if isinstance(base, dict) else {}
        for k, v in change.items():
            merged[k] = merge(merged.get(k), v) if isinstance(v, dict) and v else v
        return merged

    return {f"rocketchat:{key}": merge(stack_value(stack, key), patch)}


@dataclass(frozen=True)
class Case:
    id: str
    key: str
    """The exact key the message must name, e.g. `rocketchat:services.ddpStreamer.replicas`."""
    overrides: dict[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    stack: str = "dev"
    says: str = ""
    """A fragment the message for `key` must contain (what is wrong / what to do)."""


CASES = [
    Case("bad-mode", "rocketchat:mode", {"rocketchat:mode": "kubernetes"}, says="'helm' or 'raw'"),
    Case("host-with-scheme", "rocketchat:host", {"rocketchat:host": "https://chat.dev.example.com"}, says="scheme"),
    Case("host-with-path", "rocketchat:host", {"rocketchat:host": "chat.dev.example.com/chat"}, says="path"),
    Case("host-not-fqdn", "rocketchat:host", {"rocketchat:host": "chat"}, says="fully qualified"),
    Case("host-missing", "rocketchat:host", remove=("rocketchat:host",), says="required"),
    Case("bad-namespace", "rocketchat:namespace", {"rocketchat:namespace": "Rocket_Chat"}, says="DNS label"),
    Case(
        "namespace-kube-system",
        "rocketchat:namespace",
        {"rocketchat:namespace": "kube-system"},
        says="belongs to Kubernetes itself",
    ),
    Case(
        "namespace-kube-node-lease-not-created",
        "rocketchat:namespace",
        {"rocketchat:namespace": "kube-node-lease", "rocketchat:createNamespace": False},
        says="never kube-system, kube-public, kube-node-lease",
    ),
    Case(
        "namespace-default-created",
        "rocketchat:namespace",
        {"rocketchat:namespace": "default"},
        says="set rocketchat:createNamespace to false to deploy into it",
    ),
    Case("create-namespace-yes", "rocketchat:createNamespace", {"rocketchat:createNamespace": "yes"}, says="boolean"),
    Case("version-latest", "rocketchat:version", {"rocketchat:version": "latest"}, says="pin an exact version"),
    Case("version-range", "rocketchat:version", {"rocketchat:version": "^8.6.0"}, says="exact semantic version"),
    Case("version-two-parts", "rocketchat:version", {"rocketchat:version": "8.6"}, says="exact semantic version"),
    Case(
        "replicas-zero",
        "rocketchat:services.ddpStreamer.replicas",
        patched("dev", "services", {"ddpStreamer": {"replicas": 0}}),
        says="greater than or equal to 1",
    ),
    Case(
        "replicas-as-string",
        "rocketchat:services.account.replicas",
        patched("dev", "services", {"account": {"replicas": "2"}}),
        says="valid integer",
    ),
    Case(
        "monolith-replicas-negative",
        "rocketchat:monolith.replicas",
        {"rocketchat:monolith": {"replicas": -1}},
        says="greater than or equal to 1",
    ),
    Case("users-float", "rocketchat:concurrentUsers", {"rocketchat:concurrentUsers": 100.5}, says="valid integer"),
    Case("users-negative", "rocketchat:concurrentUsers", {"rocketchat:concurrentUsers": -5}, says="greater than"),
    Case("microservices-yes", "rocketchat:microservices", {"rocketchat:microservices": "yes"}, says="valid boolean"),
    Case("unknown-top-level-key", "rocketchat:replcias", {"rocketchat:replcias": 3}, says="unknown key"),
    Case(
        "unknown-nested-key",
        "rocketchat:services.ddpStreamer.replica",
        patched("dev", "services", {"ddpStreamer": {"replica": 2}}),
        says="did you mean 'rocketchat:services.ddpStreamer.replicas'",
    ),
    Case(
        "unknown-service",
        "rocketchat:services.ddp",
        patched("dev", "services", {"ddp": {"replicas": 2}}),
        says="allowed keys here: account, authorization, ddpStreamer, presence, streamHub",
    ),
    Case(
        "stream-hub-on-8x",
        "rocketchat:services.streamHub.enabled",
        patched("dev", "services", {"streamHub": {"enabled": True}}),
        says="removed in Rocket.Chat 8.0",
    ),
    Case(
        "stream-hub-off-7.6",
        "rocketchat:services.streamHub.enabled",
        {"rocketchat:version": "7.6.2", **patched("dev", "services", {"streamHub": {"enabled": False}})},
        says="needs stream-hub",
    ),
    Case(
        "stream-hub-two-replicas",
        "rocketchat:services.streamHub.replicas",
        {"rocketchat:version": "7.7.1", **patched("dev", "services", {"streamHub": {"enabled": True, "replicas": 2}})},
        says="less than or equal to 1",
    ),
    Case("nats-replicas-zero", "rocketchat:nats.replicas", {"rocketchat:nats": {"replicas": 0}}, says="greater"),
    Case(
        "nats-bundled-in-raw",
        "rocketchat:nats.bundled",
        {"rocketchat:nats": {"replicas": 1, "bundled": True}},
        says="only helm mode",
    ),
    Case(
        "nats-bundled-in-prod-as-raw",
        "rocketchat:nats.bundled",
        {"rocketchat:mode": "raw", **patched("prod", "nats", {"bundled": True})},
        stack="prod",
        says="only helm mode",
    ),
    Case(
        "bad-tls-secret-name",
        "rocketchat:ingress.tls.secretName",
        patched("prod", "ingress", {"tls": {"secretName": "Rocketchat_TLS"}}),
        stack="prod",
        says="DNS subdomain",
    ),
    Case(
        "tls-without-a-source",
        "rocketchat:ingress.tls",
        {"rocketchat:ingress": {"className": "nginx", "tls": {}}},
        says="secretName",
    ),
    Case(
        "mongo-missing",
        "rocketchat:mongoUrl",
        remove=("rocketchat:mongodb",),
        says="no MongoDB source",
    ),
    Case(
        "mongo-both-sources",
        "rocketchat:mongodb.inCluster",
        {"rocketchat:mongoUrl": Secret(f"mongodb://rc:{MONGO_PASSWORD}@db.example.net/rocketchat?replicaSet=rs0")},
        says="choose one MongoDB source",
    ),
    Case(
        "mongo-url-without-replica-set",
        "rocketchat:mongoUrl",
        {"rocketchat:mongoUrl": Secret(f"mongodb://rc:{MONGO_PASSWORD}@db.example.net:27017/rocketchat")},
        stack="prod",
        says="replicaSet=rs0",
    ),
    Case(
        "mongo-url-wrong-scheme",
        "rocketchat:mongoUrl",
        {"rocketchat:mongoUrl": Secret(f"postgres://rc:{MONGO_PASSWORD}@db.example.net/rocketchat")},
        stack="prod",
        says="mongodb://",
    ),
    Case(
        "mongo-url-in-plain-text",
        "rocketchat:mongoUrl",
        {"rocketchat:mongoUrl": f"mongodb://rc:{MONGO_PASSWORD}@db.example.net/rocketchat?replicaSet=rs0"},
        stack="prod",
        says="must be stored encrypted",
    ),
    Case(
        "licence-in-plain-text",
        "rocketchat:license",
        {"rocketchat:license": f"licence-{MONGO_PASSWORD}"},
        stack="prod",
        says="must be stored encrypted",
    ),
    Case(
        "misspelt-secret-key",
        "rocketchat:mongoURL",
        {"rocketchat:mongoURL": Secret(f"mongodb://rc:{MONGO_PASSWORD}@db.example.net/rocketchat?replicaSet=rs0")},
        stack="prod",
        says="unknown key",
    ),
    Case(
        "in-cluster-mongo-two-members",
        "rocketchat:mongodb.inCluster.replicas",
        patched("dev", "mongodb", {"inCluster": {"replicas": 2}}),
        says="1, 3 or 5",
    ),
    Case(
        "release-name-with-nats",
        "rocketchat:chart.releaseName",
        patched("prod", "chart", {"releaseName": "natschat"}),
        stack="prod",
        says="contains 'nats'",
    ),
    Case(
        "release-name-too-long",
        "rocketchat:chart.releaseName",
        patched("prod", "chart", {"releaseName": "rocketchat-" + "x" * 43}),
        stack="prod",
        says="53 characters",
    ),
    Case(
        "chart-version-range",
        "rocketchat:chart.version",
        patched("prod", "chart", {"version": "^7.0.0"}),
        stack="prod",
        says="pin one such as 7.0.2",
    ),
    Case(
        "chart-timeout-too-short",
        "rocketchat:chart.timeout",
        patched("prod", "chart", {"timeout": 10}),
        stack="prod",
        says="greater than or equal to 60",
    ),
    Case(
        "bad-resource-quantity",
        "rocketchat:monolith.resources.limits.memory",
        patched("prod", "monolith", {"resources": {"limits": {"memory": "4 GB"}}}),
        stack="prod",
        says="Kubernetes quantity",
    ),
    Case(
        "bad-toleration-effect",
        "rocketchat:scheduling.tolerations[0].effect",
        {"rocketchat:scheduling": {"tolerations": [{"key": "dedicated", "value": "chat", "effect": "NoSchedul"}]}},
        says="'NoSchedule', 'PreferNoSchedule' or 'NoExecute'",
    ),
    Case(
        "dns-ttl-too-low",
        "rocketchat:dns.ttl",
        patched("prod", "dns", {"ttl": 5}),
        stack="prod",
        says="greater than or equal to 30",
    ),
    Case(
        "stream-hub-autoscaling",
        "rocketchat:services.streamHub.autoscaling",
        {
            "rocketchat:version": "7.6.2",
            **patched("dev", "services", {"streamHub": {"autoscaling": {"maxReplicas": 2}}}),
        },
        says="stream-hub can never autoscale",
    ),
    Case(
        "autoscaling-max-below-min",
        "rocketchat:services.presence.autoscaling.maxReplicas",
        patched("dev", "services", {"presence": {"autoscaling": {"minReplicas": 3, "maxReplicas": 2}}}),
        says="2 is below the autoscaler's minimum of 3 (rocketchat:services.presence.autoscaling.minReplicas)",
    ),
    Case(
        "autoscaling-max-below-the-ddp-streamer-sizing",
        "rocketchat:services.ddpStreamer.autoscaling.maxReplicas",
        {
            "rocketchat:concurrentUsers": 2000,
            **patched("dev", "services", {"ddpStreamer": {"autoscaling": {"maxReplicas": 3}}}),
        },
        says="minimum of 4 (one ddp-streamer pod per 500 of rocketchat:concurrentUsers 2000",
    ),
    Case(
        "autoscaling-max-below-the-replicas",
        "rocketchat:monolith.autoscaling.maxReplicas",
        patched("prod", "monolith", {"autoscaling": {"maxReplicas": 2}}) | {"rocketchat:mode": "raw"},
        stack="prod",
        says="minimum of 3 (rocketchat:monolith.replicas, which minReplicas defaults to)",
    ),
    Case(
        "autoscaling-without-max",
        "rocketchat:monolith.autoscaling.maxReplicas",
        patched("dev", "monolith", {"autoscaling": {"minReplicas": 2}}),
        says="required",
    ),
    Case(
        "autoscaling-in-helm-mode",
        "rocketchat:services.ddpStreamer.autoscaling",
        patched("prod", "services", {"ddpStreamer": {"autoscaling": {"maxReplicas": 20}}}),
        stack="prod",
        says="helm mode cannot autoscale: the official chart (7.0.2) sets every Deployment's replica count",
    ),
    Case(
        "monitoring-label-not-a-label",
        "rocketchat:monitoring.labels.release",
        {"rocketchat:monitoring": {"labels": {"release": "kube prometheus"}}},
        says="'kube prometheus' is not a Kubernetes label value",
    ),
    Case(
        "ingress-annotation-not-a-string",
        "rocketchat:ingress.annotations.nginx.ingress.kubernetes.io/proxy-body-size",
        {"rocketchat:ingress": {"annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": 100}}},
        says="valid string",
    ),
]


def rejected(stack: str, overrides: dict[str, Any], remove: tuple[str, ...] = ()) -> tuple[ConfigError, Recording]:
    """Run the real program on the stack with the changes; it must raise ConfigError. Returns it and the recording."""
    recording = Recording()
    with pytest.raises(ConfigError) as caught:
        run_program(stack, overrides, remove, recording=recording)
    return caught.value, recording


def secret_texts(overrides: dict[str, Any]) -> list[str]:
    """Every secret value in play: the stack file's placeholders and any secret or credential in the overrides."""
    texts = [*PLACEHOLDER_SECRETS.values(), MONGO_PASSWORD]
    texts += [v.value for v in overrides.values() if isinstance(v, Secret)]
    return texts


def test_the_matrix_is_big_and_every_case_distinct() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({(c.stack, repr(c.overrides), c.remove) for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_config_is_rejected_naming_the_key_and_nothing_is_registered(case: Case) -> None:
    error, recording = rejected(case.stack, case.overrides, case.remove)

    assert recording.resources == [], [r.name for r in recording.resources]
    assert recording.outputs == {}
    assert error.stack_file == f"Pulumi.{case.stack}.yaml"
    assert str(error).startswith(f"invalid stack configuration in Pulumi.{case.stack}.yaml")
    # Exactly one problem, about exactly this key, saying what is wrong.
    assert len(error.problems) == 1, error.problems
    (problem,) = error.problems
    assert problem.startswith(f"{case.key}: "), problem
    assert case.says in problem, problem
    for secret in secret_texts(case.overrides):
        assert secret not in str(error)


def test_the_same_stack_files_are_accepted_without_the_bad_changes(dev: Recording, prod: Recording) -> None:
    """Control: the matrix fails because of its changes, not because the stack files are broken."""
    assert dev.resources and prod.resources


def test_every_problem_is_reported_at_once() -> None:
    overrides = {
        "rocketchat:mode": "kubernetes",
        "rocketchat:host": "https://chat.dev.example.com",
        "rocketchat:replcias": 3,
        "rocketchat:version": "8.6.1",
        **patched("dev", "services", {"ddpStreamer": {"replicas": 0}}),
        "rocketchat:nats": {"replicas": 0},
        "rocketchat:scheduling": {"tolerations": [{"effect": "Never"}]},
    }
    error, recording = rejected("dev", overrides, remove=("rocketchat:mongodb",))
    keys = sorted(p.split(": ", 1)[0] for p in error.problems)
    assert keys == sorted(
        [
            "rocketchat:mode",
            "rocketchat:host",
            "rocketchat:replcias",
            "rocketchat:services.ddpStreamer.replicas",
            "rocketchat:nats.replicas",
            "rocketchat:scheduling.tolerations[0].effect",
            "rocketchat:mongoUrl",
        ]
    )
    assert f"({len(keys)} problems)" in str(error)
    assert recording.resources == []


def test_a_new_users_first_preview_of_prod_names_the_missing_secret_and_its_command() -> None:
    """`pulumi stack select prod --create && pulumi preview` with nothing set: the committed file holds no `secure:`
    value a new stack could not decrypt, and the program says what is missing and how to set it."""
    recording = Recording()
    with pytest.raises(ConfigError) as caught:
        run_program("prod", recording=recording, as_committed=True)
    [problem] = caught.value.problems
    assert problem.startswith("rocketchat:mongoUrl: no MongoDB source: this secret is the MongoDB replica set")
    assert (
        "`pulumi config set --secret --stack prod rocketchat:mongoUrl "
        "'mongodb+srv://USER:PASSWORD@cluster.example.net/rocketchat'`"
    ) in problem
    assert recording.resources == []
    committed = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]
    assert not [key for key, value in committed.items() if isinstance(value, dict) and "secure" in value]


def test_with_the_database_set_the_first_preview_warns_about_the_licence_with_its_command() -> None:
    overrides = {"rocketchat:mongoUrl": Secret(PLACEHOLDER_SECRETS["rocketchat:mongoUrl"])}
    recording = run_program("prod", overrides, as_committed=True)
    assert recording.resources
    licence = [m for _, m in recording.logs if "no rocketchat:license is set" in m]
    assert len(licence) == 4  # account, authorization, presence and ddp-streamer run more than one pod
    assert all(
        '`pulumi config set --secret --stack prod rocketchat:license "$(cat rocketchat.license)"`' in m for m in licence
    )
