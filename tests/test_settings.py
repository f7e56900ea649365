"""The settings model: sizing, version rules, defaults and error messages, tested directly (no engine)."""

from __future__ import annotations

from typing import Any

import pytest

from components.planning import ddp_streamer_replicas_for
from components.versions import StreamHubRule, Version, stream_hub_rule
from stack_config import ConfigError, load_settings
from stack_config.reading import _decode

BASE: dict[str, Any] = {
    "mode": "raw",
    "host": "chat.example.com",
    "version": "8.6.1",
    "mongodb": {"inCluster": {}},
}


# The provider setting every stack file carries (the program refuses to run without it).
PROVIDER = {"enableSecretMutable": "true"}


def settings(secret_keys: tuple[str, ...] = (), **changes: Any):
    return load_settings("test", BASE | changes, secret_keys, PROVIDER)


def problems(**changes: Any) -> list[str]:
    return settings_problems((), **changes)


def settings_problems(secret_keys: tuple[str, ...], **changes: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings(secret_keys, **changes)
    return caught.value.problems


@pytest.mark.parametrize(("users", "pods"), [(0, 1), (1, 1), (500, 1), (501, 2), (1200, 3), (5000, 10), (5001, 11)])
def test_ddp_streamer_runs_one_pod_per_500_concurrent_users(users: int, pods: int) -> None:
    assert ddp_streamer_replicas_for(users) == pods
    assert settings(concurrentUsers=users).plan("ddpStreamer").replicas == pods


def test_explicit_ddp_streamer_replicas_win_but_warn_when_below_the_sizing() -> None:
    result = settings(concurrentUsers=2000, services={"ddpStreamer": {"replicas": 2}})
    assert result.plan("ddpStreamer").replicas == 2
    assert any("ddpStreamer.replicas is 2, below the 4 pods" in w for w in result.warnings)


def test_explicit_ddp_streamer_replicas_above_the_sizing_do_not_warn_about_capacity() -> None:
    result = settings(("license",), concurrentUsers=100, services={"ddpStreamer": {"replicas": 3}}, license="x")
    assert result.plan("ddpStreamer").replicas == 3
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("version", "rule"),
    [
        ("7.6.3", StreamHubRule.REQUIRED),
        ("7.7.0", StreamHubRule.OPTIONAL),
        ("7.7.9", StreamHubRule.OPTIONAL),
        ("7.7.0-rc.1", StreamHubRule.OPTIONAL),
        ("8.0.0", StreamHubRule.REMOVED),
        ("8.6.1", StreamHubRule.REMOVED),
    ],
)
def test_stream_hub_rule_by_version(version: str, rule: StreamHubRule) -> None:
    assert stream_hub_rule(Version.parse(version)) is rule


def test_stream_hub_runs_before_7_7_is_off_by_default_in_7_7_and_gone_from_8() -> None:
    assert settings(version="7.6.3").plan("streamHub").replicas == 1
    assert settings(version="7.7.2").plan("streamHub") is None
    assert settings(version="7.7.2", services={"streamHub": {"enabled": True}}).plan("streamHub") is not None
    assert settings(version="8.6.1").plan("streamHub") is None


def test_stream_hub_uses_recreate_so_two_never_overlap() -> None:
    plan = settings(version="7.6.3").plan("streamHub")
    assert plan.workload.strategy == "Recreate"
    assert plan.workload.scaling == "singleton"


def test_stream_hub_cannot_be_disabled_before_7_7_nor_enabled_from_8() -> None:
    assert problems(version="7.6.3", services={"streamHub": {"enabled": False}}) == [
        (
            "rocketchat:services.streamHub.enabled: Rocket.Chat 7.6.3 (before 7.7) needs stream-hub; "
            "remove the key or set it to true"
        )
    ]
    [message] = problems(version="8.0.0", services={"streamHub": {"enabled": True}})
    assert message.startswith("rocketchat:services.streamHub.enabled: stream-hub was removed in Rocket.Chat 8.0")


def test_stream_hub_never_more_than_one_replica() -> None:
    [message] = problems(version="7.6.3", services={"streamHub": {"replicas": 2}})
    assert message.startswith("rocketchat:services.streamHub.replicas: Input should be less than or equal to 1")


def test_scaling_a_licensed_service_without_a_licence_warns_and_the_monolith_does_not() -> None:
    unlicensed = settings(monolith={"replicas": 3}, services={"account": {"replicas": 2}})
    assert [w for w in unlicensed.warnings if "licence" in w] == [
        (
            "rocketchat:services.account.replicas is 2 but no rocketchat:license is set: without an Enterprise "
            "licence every pod beyond the first exits after about 40 seconds; set it with "
            '`pulumi config set --secret --stack test rocketchat:license "$(cat rocketchat.license)"`'
        )
    ]
    s3 = {"storage": "s3", "s3": {"bucket": "chat-uploads"}}  # GridFS at this size warns (tests/test_workspace.py)
    licensed = settings(
        ("license",), monolith={"replicas": 3}, services={"account": {"replicas": 2}}, license="L", uploads=s3
    )
    assert licensed.warnings == ()


def test_monolith_mode_plans_the_monolith_alone() -> None:
    result = settings(microservices=False, services={"account": {"replicas": 2}})
    assert [p.workload.key for p in result.workloads] == ["monolith"]


def test_resource_overrides_merge_with_catalog_defaults() -> None:
    result = settings(services={"presence": {"resources": {"limits": {"memory": "1Gi"}}}})
    presence = result.plan("presence")
    assert presence.limits == {"memory": "1Gi"}
    assert presence.requests == {"cpu": "100m", "memory": "256Mi"}


def test_url_follows_tls() -> None:
    assert settings().url == "http://chat.example.com"
    assert settings(ingress={"tls": {"secretName": "chat-tls"}}).url == "https://chat.example.com"


@pytest.mark.parametrize(
    ("host", "fragment"),
    [
        ("https://chat.example.com", "has a scheme"),
        ("chat.example.com/rc", "has a path"),
        ("Chat.Example.com", "is not a DNS subdomain"),
        ("localhost", "is not a fully qualified DNS name"),
        ("chat_example.com", "is not a DNS subdomain"),
    ],
)
def test_host_must_be_a_bare_dns_name(host: str, fragment: str) -> None:
    [message] = problems(host=host)
    assert message.startswith("rocketchat:host: ") and fragment in message


def test_an_instance_name_may_have_40_characters_and_not_41() -> None:
    """Every name the stack makes starts with the instance (`<instance>-default-deny-ingress` is the longest, and a
    Kubernetes name stops at 63): 40 characters fit, a 41st is refused, saying so."""
    assert settings(instance="i" * 40).instance == "i" * 40
    [message] = problems(instance="i" * 41)
    assert message.startswith(f"rocketchat:instance: '{'i' * 41}' is longer than 40 characters")


@pytest.mark.parametrize("version", ["latest", "8.0", "8", "v8.6.1", "^8.6.1", "8.6.x"])
def test_version_must_be_exact_semver(version: str) -> None:
    [message] = problems(version=version)
    assert message.startswith("rocketchat:version: ")


@pytest.mark.parametrize("given", [8.6, 8, None])
def test_a_version_that_is_not_text_is_refused_as_a_version(given: Any) -> None:
    """A consumer of the components may pass a number (YAML's `8.6`): the same error as a bad text, not a crash."""
    with pytest.raises(ValueError, match=f"^{given!r} is not an exact semantic version such as 8.6.1$"):
        Version.parse(given)


def test_version_text_is_never_read_as_a_number() -> None:
    # `version: 8.0` in YAML reaches the program as the text "8.0": it must be rejected, not become 8.0.
    assert _decode("version", "8.0") == "8.0"
    assert _decode("concurrentUsers", "5000") == 5000
    assert _decode("monolith", '{"replicas": 3}') == {"replicas": 3}


def test_unknown_keys_are_errors_with_a_suggestion() -> None:
    messages = problems(replcias=3, monolith={"replcias": 3})
    assert any(
        m.startswith("rocketchat:monolith.replcias: unknown key (did you mean 'rocketchat:monolith.replicas'?)")
        for m in messages
    )
    top = next(m for m in messages if m.startswith("rocketchat:replcias"))
    assert "did you mean 'rocketchat:monolith.replicas'" in top
    assert "allowed keys here: admin, adminPassword, chart, concurrentUsers, createNamespace, dns, gateway, host" in top


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (  # a section that may be left out (`inCluster: ... | None`)
            {"mongodb": {"inCluster": {"replcias": 3}}},
            (
                "rocketchat:mongodb.inCluster.replcias: unknown key (did you mean "
                "'rocketchat:mongodb.inCluster.replicas'?); allowed keys here: replicas, resources, storage, "
                "storageClassName"
            ),
        ),
        (  # an item of a list of sections
            {"scheduling": {"tolerations": [{"key": "a", "efect": "NoSchedule"}]}},
            (
                "rocketchat:scheduling.tolerations[0].efect: unknown key (did you mean "
                "'rocketchat:scheduling.tolerations[0].effect'?); allowed keys here: effect, key, operator, "
                "tolerationSeconds, value"
            ),
        ),
        (  # a section of a section of a map
            {"services": {"ddpStreamer": {"autoscaling": {"maxReplicas": 4, "minReplics": 2}}}},
            (
                "rocketchat:services.ddpStreamer.autoscaling.minReplics: unknown key (did you mean "
                "'rocketchat:services.ddpStreamer.autoscaling.minReplicas'?); allowed keys here: maxReplicas, "
                "minReplicas, targetCPUUtilizationPercentage"
            ),
        ),
    ],
)
def test_an_unknown_key_deep_in_the_config_lists_the_keys_of_its_own_section(
    changes: dict[str, Any], expected: str
) -> None:
    assert problems(**changes) == [expected]


def test_a_key_put_at_the_wrong_level_names_up_to_three_places_it_belongs() -> None:
    [message] = problems(autoscaling={"maxReplicas": 3})
    assert message.startswith(
        "rocketchat:autoscaling: unknown key (did you mean 'rocketchat:monolith.autoscaling' or "
        "'rocketchat:services.account.autoscaling' or 'rocketchat:services.authorization.autoscaling'?); "
    )


def test_a_key_like_no_other_gets_the_allowed_keys_without_a_guess() -> None:
    [message] = problems(zzzqqq=1)
    assert message.startswith("rocketchat:zzzqqq: unknown key; allowed keys here: admin, adminPassword, chart, ")


def test_every_problem_is_reported_at_once_naming_the_stack_file() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            "prod", {"mode": "kube", "host": "x", "concurrentUsers": -1, "nats": {"replicas": 0}}, (), PROVIDER
        )
    error = caught.value
    keys = [p.split(":", 2)[1].split(" ")[0] for p in error.problems]
    assert {"mode", "host", "concurrentUsers", "nats.replicas", "version", "mongoUrl"} <= {k.rstrip(":") for k in keys}
    assert str(error).startswith("invalid stack configuration in Pulumi.prod.yaml (6 problems):")


def test_secret_values_never_appear_in_messages() -> None:
    leaked = "mongodb://admin:hunter2@db.example.net/rocketchat"
    with pytest.raises(ConfigError) as caught:
        load_settings("prod", BASE | {"mongodb": {}, "mongoUrl": leaked}, (), PROVIDER)
    text = str(caught.value)
    assert "hunter2" not in text
    assert (
        "rocketchat:mongoUrl: must be stored encrypted; run "
        "`pulumi config set --secret --stack prod rocketchat:mongoUrl ...` (its value is not shown here)"
    ) in text
    assert "rocketchat:mongoUrl: must name the replica set" in text


def test_mongodb_needs_exactly_one_source() -> None:
    assert problems(mongodb={})[0].startswith("rocketchat:mongoUrl: no MongoDB source")
    both = load_settings
    with pytest.raises(ConfigError) as caught:
        both("dev", BASE | {"mongoUrl": "mongodb+srv://u:p@c.example.net/rc"}, ("mongoUrl",))
    assert caught.value.problems[0].startswith("rocketchat:mongodb.inCluster: choose one MongoDB source")


def test_defaults_of_a_minimal_stack() -> None:
    result = settings()
    config = result.config
    assert result.namespace == "rocketchat"
    assert config.chart.version == "7.0.2" and config.chart.release_name == "rocketchat"
    assert config.ingress.class_name == "nginx" and config.dns.ttl == 300
    assert result.replicas == {
        "rocketchat": 1,
        "account": 1,
        "authorization": 1,
        "presence": 1,
        "ddp-streamer": 1,
        "nats": 1,
        "mongodb": 1,
    }


def test_a_broken_sibling_does_not_hide_the_stream_hub_rule() -> None:
    messages = problems(services={"ddpStreamer": {"replicas": 0}, "streamHub": {"enabled": True}})
    assert [m.split(":")[1] for m in messages] == ["services.ddpStreamer.replicas", "services.streamHub.enabled"]


def test_helm_mode_warns_that_the_chart_rolls_stream_hub_with_a_surge() -> None:
    helm = load_settings("prod", BASE | {"mode": "helm", "version": "7.6.3"}, (), PROVIDER)
    assert any("maxSurge 1: two stream-hubs run side by side" in w for w in helm.warnings)
    assert not any("stream-hub" in w for w in settings(version="7.6.3").warnings)


def test_a_services_autoscaling_minimum_comes_from_that_services_replicas() -> None:
    [message] = problems(services={"account": {"replicas": 3, "autoscaling": {"maxReplicas": 2}}})
    assert message == (
        "rocketchat:services.account.autoscaling.maxReplicas: 2 is below the autoscaler's minimum of 3 "
        "(rocketchat:services.account.replicas, which minReplicas defaults to); set maxReplicas to 3 or more"
    )


def test_a_service_without_replicas_may_autoscale_from_one_pod() -> None:
    """account runs one pod unless told otherwise: an autoscaler of at most one pod is pointless but not wrong."""
    autoscaled = settings(services={"account": {"autoscaling": {"maxReplicas": 1}}})
    assert autoscaled.config.services.account.autoscaling.max_replicas == 1
    assert autoscaled.replicas["account"] == "1..1"


def test_a_mongodb_srv_url_is_a_source_without_a_replica_set_option() -> None:
    """DNS seed lists (Atlas and the like) name the replica set in their TXT record, not in the URL."""
    srv = settings(("mongoUrl",), mongodb={}, mongoUrl="mongodb+srv://rc:pw@cluster0.example.net/rocketchat")
    assert srv.config.mongo_url.get_secret_value().startswith("mongodb+srv://")
    refused = settings_problems(("mongoUrl",), mongodb={}, mongoUrl="mysql://rc:pw@db.example.net/rocketchat")
    assert refused == ["rocketchat:mongoUrl: must start with mongodb:// or mongodb+srv:// (value not shown)"]


@pytest.mark.parametrize(
    ("secret_keys", "changes", "expected"),
    [
        (
            ("mongoUrl",),
            {"mongodb": {}, "mongoUrl": 5},
            "rocketchat:mongoUrl: Input should be a valid string (value not shown)",
        ),
        (
            ("mongoUrl",),
            {"mongodb": {"inCluster": {"replicas": 2}}, "mongoUrl": "mongodb://rc:pw@db.example.net/rc?replicaSet=rs0"},
            "rocketchat:mongodb.inCluster.replicas: Input should be 1, 3 or 5 (got 2)",
        ),
        ((), {"nats": {"bundled": "maybe"}}, 'rocketchat:nats.bundled: Input should be a valid boolean (got "maybe")'),
    ],
)
def test_a_key_that_failed_validation_is_reported_once_not_again_by_the_rules_that_read_it(
    secret_keys: tuple[str, ...], changes: dict[str, Any], expected: str
) -> None:
    """The rules across keys read the validated values: a broken key would look absent to them ("no MongoDB
    source", "choose one MongoDB source"), a second, wrong message about the same mistake."""
    assert settings_problems(secret_keys, **changes) == [expected]


# --- the limits Kubernetes puts on names, at their edges -----------------------------------------------------------

LONGEST_HOST = ".".join(["a" * 63] * 3) + "." + "b" * 61  # 253 characters, each label at most 63


def monitoring_labels(labels: dict[str, str]) -> dict[str, Any]:
    return {"monitoring": {"podMonitor": True, "labels": labels}}


def test_a_namespace_may_have_63_characters_not_64() -> None:
    assert settings(namespace="a" * 63).namespace == "a" * 63
    [message] = problems(namespace="a" * 64)
    assert message.startswith(f"rocketchat:namespace: '{'a' * 64}' is not a DNS label")


def test_a_host_may_have_253_characters_not_254() -> None:
    assert len(LONGEST_HOST) == 253
    assert settings(host=LONGEST_HOST).config.host == LONGEST_HOST
    [message] = problems(host=LONGEST_HOST + "b")
    assert message.startswith("rocketchat:host: ") and "is not a DNS subdomain name" in message


def test_monitoring_label_keys_follow_kubernetes_rules_prefix_included() -> None:
    accepted = {"release": "kube-prometheus-stack", "example.com/team": "chat", f"{LONGEST_HOST}/team": "chat"}
    assert settings(**monitoring_labels(accepted)).config.monitoring.labels == accepted
    for refused in ("Example_Bad.com/team", f"{LONGEST_HOST}b/team", "-team", "team-"):
        [message] = problems(**monitoring_labels({refused: "chat"}))
        # The map is named, then the key it refused (pydantic's `[key]` path fragment is not the user's).
        assert message.startswith(f"rocketchat:monitoring.labels: the key '{refused}' is not a Kubernetes label key")


# --- warnings ------------------------------------------------------------------------------------------------------


def test_an_autoscaling_minimum_below_the_sizing_warns_naming_the_minimum() -> None:
    streamer = {"ddpStreamer": {"autoscaling": {"minReplicas": 2, "maxReplicas": 8}}}
    s3 = {"storage": "s3", "s3": {"bucket": "chat-uploads"}}  # GridFS at this size warns (tests/test_workspace.py)
    warned = settings(("license",), concurrentUsers=2000, services=streamer, license="a licence", uploads=s3).warnings
    expected = (
        "rocketchat:services.ddpStreamer.autoscaling.minReplicas is 2, below the 4 pods that 2000 concurrent users "
        "need (one per 500)"
    )
    assert warned == (expected,)


STREAM_HUB_ROLLOUT = (
    "Rocket.Chat {version} runs stream-hub, and the official chart rolls it out with maxSurge 1: two stream-hubs run "
    "side by side during every upgrade (the policy pack rejects this); mode 'raw' uses Recreate"
)


@pytest.mark.parametrize(("version", "warned"), [("8.6.1", False), ("7.6.2", True)])
def test_helm_mode_warns_of_the_stream_hub_rollout_only_where_stream_hub_runs(version: str, warned: bool) -> None:
    warnings = settings(mode="helm", version=version).warnings
    expected = [STREAM_HUB_ROLLOUT.format(version=version)] if warned else []
    assert [w for w in warnings if "stream-hub" in w] == expected
