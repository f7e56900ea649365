"""The classes of configs a fuzz run once found breaking the promise ("bad input gets a clear error before anything is
created"), each with an example, run through the real program: refused before anything is registered, naming the
key, in words, with the value given; or, for settings that change nothing, warned about.

The property tests (tests/test_generated_configs.py) cover the classes at large; these pin one example of each.
"""

from __future__ import annotations

from typing import Any

import pytest

from stack_config import ConfigError
from tools.engine import Recording, Secret, run_program
from tools.manifests import kubernetes_objects

LEAKED = "Hunter2-leaked"


def refused(overrides: dict[str, Any], stack: str = "dev") -> list[str]:
    """The program's problems for the stack with these changes; nothing may have been registered."""
    recording = Recording()
    with pytest.raises(ConfigError) as caught:
        run_program(stack, overrides, recording=recording)
    assert recording.resources == [] and recording.outputs == {}
    assert all(p.startswith("rocketchat:") for p in caught.value.problems), caught.value.problems
    return caught.value.problems


def only(overrides: dict[str, Any], stack: str = "dev") -> str:
    (problem,) = refused(overrides, stack)
    return problem


def warnings(overrides: dict[str, Any], stack: str = "dev") -> list[str]:
    return [message for _, message in run_program(stack, overrides).logs]


# --- accepted, then refused by the API server at `pulumi up` ----------------------------------------------------------


def test_a_request_laid_over_the_default_limit_is_refused_naming_the_request() -> None:
    problem = only({"rocketchat:monolith": {"resources": {"requests": {"memory": "4Gi"}}}})
    assert problem.startswith(
        "rocketchat:monolith.resources.requests.memory: the memory request 4Gi is above the memory limit 2Gi "
        "(the limit is the monolith's default)"
    )
    assert "set rocketchat:monolith.resources.limits.memory as well" in problem


def test_a_limit_under_the_default_request_is_refused_naming_the_limit() -> None:
    problem = only({"rocketchat:services": {"account": {"resources": {"limits": {"memory": "128Mi"}}}}})
    assert problem.startswith("rocketchat:services.account.resources.limits.memory: the memory request 256Mi is above")


def test_requests_and_limits_of_nats_and_mongodb_are_held_to_the_same_rule() -> None:
    assert only({"rocketchat:nats": {"resources": {"limits": {"cpu": "10m"}}}}).startswith(
        "rocketchat:nats.resources.limits.cpu: the cpu request 50m is above the cpu limit 10m"
    )
    in_cluster = {"inCluster": {"resources": {"requests": {"memory": "2Gi"}}}}
    assert only({"rocketchat:mongodb": in_cluster}).startswith("rocketchat:mongodb.inCluster.resources.requests.memory")


@pytest.mark.parametrize(
    ("key", "value", "blank"),
    [
        ("host", "chat.example.com\n", "chat.example.com\n"),
        ("namespace", " rocketchat", " rocketchat"),
        ("version", "8.6.1\n", "8.6.1\n"),
        ("instance", "team\n", "team\n"),
        ("ingress", {"className": "nginx "}, "nginx "),
        ("mongodb", {"inCluster": {"storageClassName": "gp3\n"}}, "gp3\n"),
        ("chart", {"version": "7.0.2\n"}, "7.0.2\n"),
    ],
)
def test_blanks_around_names_hosts_classes_and_versions_are_refused(key: str, value: Any, blank: str) -> None:
    # `$` in a pattern matches before a final newline: the rules match the whole text.
    problem = only({f"rocketchat:{key}": value}, stack="prod" if key == "chart" else "dev")
    assert problem.startswith(f"rocketchat:{key}") and repr(blank) in problem, problem


def test_an_instance_starting_with_a_digit_is_refused_for_the_service_names_it_makes() -> None:
    problem = only({"rocketchat:instance": "1team"})
    assert problem.startswith("rocketchat:instance: '1team' names the Service '1team-nats', which is not a Service")


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"rocketchat:monolith": {"replicas": 2**31}}, "rocketchat:monolith.replicas"),
        ({"rocketchat:nats": {"replicas": 10**12}}, "rocketchat:nats.replicas"),
        ({"rocketchat:concurrentUsers": 2**40}, "rocketchat:concurrentUsers"),
        (
            {"rocketchat:services": {"presence": {"autoscaling": {"maxReplicas": 2**31}}}},
            "rocketchat:services.presence.autoscaling.maxReplicas",
        ),
    ],
)
def test_counts_above_int32_are_refused(overrides: dict[str, Any], key: str) -> None:
    problem = only(overrides)
    assert problem.startswith(f"{key}: Input should be less than or equal to 2147483647 (got "), problem


def test_annotation_keys_must_be_qualified_names_and_all_annotations_fit_in_256_kib() -> None:
    problem = only({"rocketchat:ingress": {"annotations": {"bad key": "x"}}})
    assert problem.startswith("rocketchat:ingress.annotations: the key 'bad key' is not a Kubernetes label key")
    problem = only({"rocketchat:ingress": {"annotations": {"example.com/notes": "x" * 300_000}}})
    assert problem.startswith("rocketchat:ingress.annotations: the Ingress's annotations come to ")
    assert "hold at most 256 KiB" in problem


def test_tolerations_the_api_server_refuses_are_refused_field_by_field() -> None:
    tolerations = [
        {"key": "dedicated", "operator": "Exists", "value": "chat"},
        {"key": "dedicated", "value": "chat", "effect": "NoSchedule", "tolerationSeconds": 30},
        {"value": "chat"},
    ]
    assert refused({"rocketchat:scheduling": {"tolerations": tolerations}}) == [
        'rocketchat:scheduling.tolerations[0].value: must be empty when operator is Exists (got "chat")',
        (
            "rocketchat:scheduling.tolerations[1].effect: must be NoExecute when tolerationSeconds is set (only "
            'NoExecute evicts) (got "NoSchedule")'
        ),
        (
            "rocketchat:scheduling.tolerations[2].operator: must be Exists when key is empty (a toleration of every "
            'taint) (got "Equal")'
        ),
    ]


def test_node_selector_keys_and_values_must_be_label_syntax() -> None:
    problems = refused({"rocketchat:scheduling": {"nodeSelector": {"bad key": "chat", "pool": "chat pool"}}})
    assert problems[0].startswith("rocketchat:scheduling.nodeSelector: the key 'bad key' is not a Kubernetes label")
    assert problems[1].startswith("rocketchat:scheduling.nodeSelector.pool: 'chat pool' is not a Kubernetes label")


def test_a_version_with_build_metadata_is_refused_as_an_image_tag() -> None:
    problem = only({"rocketchat:version": "8.6.1+build.7"})
    assert problem.startswith("rocketchat:version: '8.6.1+build.7' cannot be an image tag")


def test_a_version_too_long_for_its_label_is_refused() -> None:
    version = "8.6.1-" + "a" * 60
    assert only({"rocketchat:version": version}).startswith(
        f"rocketchat:version: {version!r} is the label app.kubernetes.io/version, which is not a Kubernetes label"
    )


def test_a_host_that_is_an_ip_address_is_refused() -> None:
    assert only({"rocketchat:host": "10.0.0.1"}) == (
        "rocketchat:host: '10.0.0.1' is an IP address; an Ingress host must be a DNS name, e.g. chat.example.com"
    )


def test_storage_of_zero_is_refused() -> None:
    problem = only({"rocketchat:mongodb": {"inCluster": {"storage": "0"}}})
    assert problem == "rocketchat:mongodb.inCluster.storage: '0' must be greater than zero, e.g. 8Gi"


def test_a_label_key_prefix_that_is_not_a_dns_subdomain_is_refused() -> None:
    problem = only({"rocketchat:monitoring": {"podMonitor": True, "labels": {"a..b/team": "chat"}}})
    assert "the key 'a..b/team' is not a Kubernetes label key: its prefix before '/' is not a DNS subdomain" in problem


# --- a secret rule bypassed ---------------------------------------------------------------------------------------


def test_a_secret_under_its_python_name_is_an_unknown_key_and_is_not_shown() -> None:
    url = f"mongodb://rc:{LEAKED}@db.example.net/rocketchat?replicaSet=rs0"
    problem = only({"rocketchat:mongo_url": url}, stack="prod")
    assert problem.startswith("rocketchat:mongo_url: unknown key: a stack file spells it rocketchat:mongoUrl")
    assert LEAKED not in problem


@pytest.mark.parametrize(
    ("overrides", "spelt"),
    [
        ({"rocketchat:services": {"ddp_streamer": {"replicas": 2}}}, "rocketchat:services.ddpStreamer"),
        ({"rocketchat:scheduling": {"node_selector": {"pool": "chat"}}}, "rocketchat:scheduling.nodeSelector"),
    ],
)
def test_every_key_has_one_spelling(overrides: dict[str, Any], spelt: str) -> None:
    assert f"unknown key: a stack file spells it {spelt}" in only(overrides)


# --- empty secrets taken as real ----------------------------------------------------------------------------------


def test_an_empty_mongo_url_beside_the_in_cluster_database_is_refused() -> None:
    problem = only({"rocketchat:mongoUrl": Secret("")})
    assert problem.startswith("rocketchat:mongoUrl: is empty: Rocket.Chat would get no database address")
    assert "pulumi config rm --stack dev rocketchat:mongoUrl" in problem


@pytest.mark.parametrize("licence", ["", "  \n"])
def test_an_empty_or_blank_licence_is_refused(licence: str) -> None:
    problem = only({"rocketchat:license": Secret(licence)}, stack="prod")
    assert problem.startswith(f"rocketchat:license: is {'empty' if not licence else 'blank'}: an empty licence is")


# --- crashes and hangs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"rocketchat:concurrentUsers": 10**400},
        {"rocketchat:monolith": {"replicas": 10**400}},
        {"rocketchat:scheduling": {"tolerations": [{"operator": "Exists", "tolerationSeconds": 10**400}]}},
        {"rocketchat:nats": {"replicas": 10**400}},
    ],
)
def test_integers_beyond_a_float_are_refused_not_a_traceback(overrides: dict[str, Any]) -> None:
    problem = only(overrides)
    assert "Input should be less than or equal to" in problem and problem.endswith("…)"), problem


def test_a_nats_cluster_too_large_for_its_config_secret_is_refused_without_rendering_it() -> None:
    # The config lists a route to every server; past 1 MiB its Secret is refused (the count alone decides here).
    problem = only({"rocketchat:nats": {"replicas": 2**31 - 1}})
    assert problem.startswith("rocketchat:nats.replicas: 2147483647 servers: the NATS config")
    assert "a Secret holds at most 1 MiB" in problem


def test_the_largest_nats_cluster_whose_config_fits_is_accepted() -> None:
    docs = kubernetes_objects(run_program("dev", {"rocketchat:nats": {"replicas": 3000}}))
    config = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "rocketchat-nats-config")
    assert config["stringData"]  # rendered, within 1 MiB
    assert "a Secret holds at most 1 MiB" in only({"rocketchat:nats": {"replicas": 12_000}})


# --- messages that mislead -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["monolith.replicas", "chart.version", "services.ddpStreamer.replicas"])
def test_a_nested_key_set_without_path_gets_the_path_hint(key: str) -> None:
    problem = only({f"rocketchat:{key}": 3 if "replicas" in key else "7.0.2"})
    assert problem.startswith(
        f"rocketchat:{key}: unknown key: it is the nested key rocketchat:{key}, which is set with `--path`"
    )
    assert f"`pulumi config set --path rocketchat:{key} <value>`" in problem


@pytest.mark.parametrize(
    ("overrides", "absent"),
    [
        ({"rocketchat:chart": {"repo": "ftp://charts.example.com"}}, ("^", "\\S", "pattern")),
        ({"rocketchat:monitoring": {"runbookUrl": "ftp://x"}}, ("^", "\\S", "pattern")),
        ({"rocketchat:dns": {"annotationPrefix": "bad prefix/"}}, ("^", "[a-z0-9", "pattern")),
        ({"rocketchat:monitoring": {"labels": {"bad key": "x"}}}, ("[key]",)),
        ({"rocketchat:monolith": 3}, ("MonolithConfig", "instance of")),
        ({"rocketchat:ingress": {"tls": []}}, ("TlsConfig", "instance of")),
    ],
)
def test_messages_say_what_is_allowed_in_words(overrides: dict[str, Any], absent: tuple[str, ...]) -> None:
    problem = only(overrides)
    assert not [text for text in absent if text in problem], problem


def test_a_value_that_appears_in_the_message_is_shown_all_the_same() -> None:
    # "greater than or equal to 30" contains "3": the value was once left out for that.
    assert (
        only({"rocketchat:dns": {"ttl": 3}})
        == "rocketchat:dns.ttl: Input should be greater than or equal to 30 (got 3)"
    )


# --- settings silently ignored -------------------------------------------------------------------------------------


def test_services_of_a_monolith_alone_are_warned_about() -> None:
    said = warnings({"rocketchat:microservices": False})
    assert any(m.startswith("rocketchat:services is ignored: rocketchat:microservices is false") for m in said), said


def test_stream_hub_settings_on_8x_are_warned_about() -> None:
    said = warnings({"rocketchat:services": {"streamHub": {"resources": {"limits": {"memory": "1Gi"}}}}})
    assert (
        "rocketchat:services.streamHub.resources is ignored: Rocket.Chat 8.6.1 has no stream-hub (removed in 8.0)"
        in said
    )


def test_nats_resources_with_the_charts_nats_are_warned_about() -> None:
    nats = {"replicas": 3, "bundled": True, "resources": {"limits": {"memory": "1Gi"}}}
    said = warnings({"rocketchat:nats": nats}, stack="prod")
    assert any(m.startswith("rocketchat:nats.resources is ignored: with rocketchat:nats.bundled") for m in said), said


@pytest.mark.parametrize(
    ("annotation", "says"),
    [
        ("pulumi.com/patchForce", "it is on every object the stack owns"),
        ("pulumi.com/skipAwait", "set rocketchat:ingress.skipAwait instead"),
        ("cert-manager.io/cluster-issuer", "set rocketchat:ingress.tls.clusterIssuer instead"),
        ("rocketchat.chat/owned-by", "which stack owns the object"),
    ],
)
def test_annotations_the_stack_relies_on_cannot_be_overridden(annotation: str, says: str) -> None:
    problem = only({"rocketchat:ingress": {"annotations": {annotation: "x"}}})
    assert problem.startswith(f"rocketchat:ingress.annotations.{annotation}: this annotation is the stack's own: ")
    assert says in problem


def test_overriding_the_sticky_session_annotations_is_warned_about_naming_the_key_that_sets_them() -> None:
    said = warnings({"rocketchat:ingress": {"annotations": {"nginx.ingress.kubernetes.io/affinity": "none"}}})
    (warning,) = [m for m in said if "affinity" in m]
    assert warning.startswith(
        "rocketchat:ingress.annotations.nginx.ingress.kubernetes.io/affinity replaces the value the stack sets "
        'itself ("cookie"): the stack sets it for rocketchat:ingress.stickySessions'
    )


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        (
            {"rocketchat:monolith": {"resources": {"limits": {"memory": "100m"}}}},
            "monolith.resources.limits.memory",
            "'100m' is 0.1 bytes, a fraction of a byte",
        ),
        (
            {"rocketchat:mongodb": {"inCluster": {"storage": "1"}}},
            "mongodb.inCluster.storage",
            "'1' is one byte, less than a mebibyte",
        ),
    ],
)
def test_quantities_that_parse_but_mean_nothing_are_refused(overrides: dict[str, Any], key: str, says: str) -> None:
    assert only(overrides).startswith(f"rocketchat:{key}: {says}")


def test_keep_on_destroy_without_a_namespace_of_the_stacks_own_is_warned_about() -> None:
    said = warnings(
        {"rocketchat:createNamespace": False, "rocketchat:mongodb": {"inCluster": {}, "keepOnDestroy": True}}
    )
    assert any(m.startswith("rocketchat:mongodb.keepOnDestroy is ignored: it keeps the namespace") for m in said), said


def test_ingress_settings_without_an_ingress_are_warned_about() -> None:
    gateway = {"parentRefs": [{"name": "public", "namespace": "gateways"}]}
    said = warnings({"rocketchat:gateway": gateway, "rocketchat:ingress": {"className": "nginx", "skipAwait": True}})
    ignored = sorted(m.split(" is ignored")[0] for m in said if "no Ingress is published" in m)
    assert ignored == ["rocketchat:ingress.className", "rocketchat:ingress.skipAwait"]


# --- found by the e2e dry run of generated configs -----------------------------------------------------------------


def test_two_references_to_the_same_gateway_need_sections_of_their_own() -> None:
    # The HTTPRoute CRD's rules across parentRefs: the API server refused such a route that the program had accepted.
    twice = {"parentRefs": [{"name": "public"}, {"name": "public"}]}
    assert only({"rocketchat:gateway": twice}).startswith(
        "rocketchat:gateway.parentRefs[1]: refers to the same Gateway and listener as parentRefs[0]"
    )
    mixed = {"parentRefs": [{"name": "public", "sectionName": "https"}, {"name": "public"}]}
    assert only({"rocketchat:gateway": mixed}).startswith(
        "rocketchat:gateway.parentRefs[1]: refers to the same Gateway as an earlier"
    )
    # Left out and given namespaces are different parents to the CRD, and two listeners of one Gateway are fine.
    apart = [{"name": "public"}, {"name": "public", "namespace": "rocketchat-dev"}]
    listeners = [{"name": "public", "sectionName": "http"}, {"name": "public", "sectionName": "https"}]
    for refs in (apart, listeners):
        assert run_program("dev", {"rocketchat:gateway": {"parentRefs": refs}}).resources
