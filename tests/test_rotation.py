"""Credential rotation: a new credential changes the pod templates of exactly the workloads that read it, in both
modes, through annotations that reveal nothing about it; the same config gives the same templates.

Replacement versus update is the provider's decision (a Secret's data change is an update only with
`kubernetes:enableSecretMutable`): the real engine shows that part (tests/e2e). Here: what the program asks for.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from components.credentials import ROLLOUT_ANNOTATION_PREFIX, keyed_digest
from stack_config import ConfigError
from tests.release_support import strings
from tools import yamlio
from tools.engine import PLACEHOLDER_SECRETS, Recording, Secret, reveal, run_program
from tools.manifests import kubernetes_objects, release_values

NEW_MONGO_URL = "mongodb://rocketchat:rotated-password@mongo-1.example.net:27017/rocketchat?replicaSet=rs0"
NEW_LICENCE = "rotated-licence-text"
MONGO = f"{ROLLOUT_ANNOTATION_PREFIX}mongo-url"
TRANSPORTER = f"{ROLLOUT_ANNOTATION_PREFIX}transporter"
LICENCE = f"{ROLLOUT_ANNOTATION_PREFIX}rocketchat-license"
SERVICES = ("account", "authorization", "presence", "ddp-streamer")
NATS = "rocketchat-nats"
# The stack's own NATS and in-cluster MongoDB carry the instance's prefix too, but they are not Rocket.Chat pods.
DATA_STORES = (NATS, "rocketchat-mongodb")


def pod_templates(recording: Recording) -> dict[str, dict[str, Any]]:
    """Workload (Deployment or StatefulSet) name -> its pod template, as the program registers it."""
    return {
        r.k8s_name: reveal(r.inputs)["spec"]["template"]
        for r in recording.resources
        if r.kind in ("Deployment", "StatefulSet")
    }


def changed_templates(before: Recording, after: Recording) -> dict[str, set[str]]:
    """Workload -> the annotation keys whose values changed, for every workload whose pod template changed at all."""
    old, new = pod_templates(before), pod_templates(after)
    assert old.keys() == new.keys()
    changed = {}
    for name in old:
        if old[name] != new[name]:
            a, b = old[name]["metadata"].get("annotations", {}), new[name]["metadata"].get("annotations", {})
            # Nothing but rollout annotations may differ: the pods must not change in any other way.
            assert {k: v for k, v in old[name].items() if k != "metadata"} == {
                k: v for k, v in new[name].items() if k != "metadata"
            }, name
            changed[name] = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    return changed


# --- raw mode ----------------------------------------------------------------------------------------------------


def test_every_rocketchat_pod_template_carries_a_digest_of_each_credential_it_reads(prod_raw: Recording) -> None:
    templates = pod_templates(prod_raw)
    assert sorted(templates) == sorted(["rocketchat-rocketchat", *(f"rocketchat-{s}" for s in SERVICES), NATS])
    rocketchat = {n: t for n, t in templates.items() if n.startswith("rocketchat-") and n not in DATA_STORES}
    assert sorted(rocketchat) == sorted(["rocketchat-rocketchat", *(f"rocketchat-{s}" for s in SERVICES)])
    for name, template in rocketchat.items():
        annotations = template["metadata"]["annotations"]
        expected = {MONGO, TRANSPORTER} | ({LICENCE} if name == "rocketchat-rocketchat" else set())
        assert set(annotations) == expected, name
        assert all(len(v) == 16 and int(v, 16) >= 0 for v in annotations.values()), annotations


def test_a_new_mongo_url_rolls_every_rocketchat_workload_and_nothing_else(prod_raw: Recording) -> None:
    rotated = run_program("prod", {"rocketchat:mode": "raw", "rocketchat:mongoUrl": Secret(NEW_MONGO_URL)})
    assert changed_templates(prod_raw, rotated) == {
        "rocketchat-rocketchat": {MONGO},
        **{f"rocketchat-{s}": {MONGO} for s in SERVICES},
    }
    # The Secret keeps its name (it is updated, not replaced by another) and gets the new URL.
    [before] = [s for s in prod_raw.of_type("Secret") if s.k8s_name == "rocketchat-mongodb"]
    [after] = [s for s in rotated.of_type("Secret") if s.k8s_name == "rocketchat-mongodb"]
    assert (before.urn, reveal(after.inputs)["stringData"]) == (after.urn, {"mongo-uri": NEW_MONGO_URL})


def test_a_new_licence_rolls_the_monolith_only(prod_raw: Recording) -> None:
    rotated = run_program("prod", {"rocketchat:mode": "raw", "rocketchat:license": Secret(NEW_LICENCE)})
    assert changed_templates(prod_raw, rotated) == {"rocketchat-rocketchat": {LICENCE}}


def test_a_new_nats_configuration_rolls_the_nats_pods() -> None:
    """nats.conf lists every route: a third node changes it, and the NATS pods must restart to read it."""
    one, three = run_program("dev"), run_program("dev", {"rocketchat:nats": {"replicas": 3}})
    key = f"{ROLLOUT_ANNOTATION_PREFIX}nats-conf"
    before, after = pod_templates(one)[NATS], pod_templates(three)[NATS]
    assert before["metadata"]["annotations"][key] != after["metadata"]["annotations"][key]
    secret = {r.k8s_name: reveal(r.inputs) for r in three.of_type("Secret")}["rocketchat-nats-config"]
    assert "rocketchat-nats-2.rocketchat-nats-headless" in secret["stringData"]["nats.conf"]


def test_the_bus_credentials_roll_every_rocketchat_workload() -> None:
    """What the transporter annotation is a digest of: the bus URL each workload reads (the monolith alone reads the
    `monolith+nats://` one, so converting a monolith to microservices rolls it too)."""
    monolith, microservices = run_program("dev", {"rocketchat:microservices": False}), run_program("dev")
    annotation = {
        n: t["metadata"]["annotations"][TRANSPORTER]
        for n, t in pod_templates(microservices).items()
        if n.startswith("rocketchat-") and n not in DATA_STORES
    }
    assert len({annotation[f"rocketchat-{s}"] for s in ("rocketchat", *SERVICES)}) == 1
    alone = pod_templates(monolith)["rocketchat-rocketchat"]["metadata"]["annotations"][TRANSPORTER]
    assert alone != annotation["rocketchat-rocketchat"]


# --- helm mode ---------------------------------------------------------------------------------------------------


def chart_annotations(recording: Recording) -> dict[str, dict[str, str]]:
    """Workload key -> the pod annotations the Release values give it."""
    (values,) = release_values(recording).values()
    found = {"monolith": values.get("podAnnotations", {})}
    for key, service in values["microservices"].items():
        if isinstance(service, dict) and "annotations" in service:
            found[key] = service["annotations"]
    return found


def test_helm_values_annotate_every_chart_workload_with_what_it_reads(prod: Recording) -> None:
    annotations = chart_annotations(prod)
    assert sorted(annotations) == ["account", "authorization", "ddpStreamer", "monolith", "presence"]
    assert set(annotations.pop("monolith")) == {MONGO, TRANSPORTER, LICENCE}
    assert all(set(a) == {MONGO, TRANSPORTER} for a in annotations.values())


@pytest.mark.parametrize(
    ("change", "rolled"),
    [
        (
            {"rocketchat:mongoUrl": Secret(NEW_MONGO_URL)},
            {"monolith", "account", "authorization", "presence", "ddpStreamer"},
        ),
        ({"rocketchat:license": Secret(NEW_LICENCE)}, {"monolith"}),
    ],
    ids=["mongoUrl", "license"],
)
def test_helm_a_new_credential_changes_the_annotations_of_its_readers_only(
    prod: Recording, change: dict[str, Any], rolled: set[str]
) -> None:
    before, after = chart_annotations(prod), chart_annotations(run_program("prod", change))
    assert {k for k in before if before[k] != after[k]} == rolled
    (old_values,) = release_values(prod).values()
    (new_values,) = release_values(run_program("prod", change)).values()
    # Nothing else in the values moves: the upgrade rolls those pods and changes nothing else.
    strip = lambda values: {k: v for k, v in values.items() if k not in ("podAnnotations", "microservices")}  # noqa: E731
    assert strip(old_values) == strip(new_values)


# --- what the annotations reveal ---------------------------------------------------------------------------------


def test_the_digest_is_keyed_changes_with_the_value_and_is_no_plain_hash() -> None:
    assert keyed_digest("key", "password") != keyed_digest("key", "passwore")
    assert keyed_digest("key", "password") != keyed_digest("other-key", "password")
    plain = hashlib.sha256(b"password").hexdigest()
    assert not plain.startswith(keyed_digest("key", "password"))


def test_the_annotation_is_the_credential_keyed_by_the_stacks_own_rollout_key() -> None:
    """The program keys the digest with the stack's generated rollout key (the engine here generates
    `generated-<name>`), never with the credential itself, which would make it a plain hash again."""
    licence = "a licence"
    recording = run_program("prod", {"rocketchat:mode": "raw", "rocketchat:license": Secret(licence)})
    annotations = pod_templates(recording)["rocketchat-rocketchat"]["metadata"]["annotations"]
    assert annotations[LICENCE] == keyed_digest("generated-rollout-key", licence)
    assert annotations[MONGO] == keyed_digest("generated-rollout-key", PLACEHOLDER_SECRETS["rocketchat:mongoUrl"])


def plain_digests(text: str) -> Iterator[str]:
    for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "sha3_256"):
        digest = hashlib.new(name, text.encode()).hexdigest()
        yield digest[:12]  # a prefix of a plain digest is as good a guessing oracle as the whole


@pytest.mark.parametrize("stack", ["dev", "prod", "prod-raw"])
def test_no_object_value_or_output_holds_a_plain_digest_of_a_credential(stack: str) -> None:
    name, overrides = ("prod", {"rocketchat:mode": "raw"}) if stack == "prod-raw" else (stack, {})
    recording = run_program(name, overrides)
    secret_objects = [o for o in kubernetes_objects(recording, show_secrets=True) if o["kind"] == "Secret"]
    credentials = {v for o in secret_objects for v in (o.get("stringData") or {}).values()}
    credentials |= set(PLACEHOLDER_SECRETS.values()) | {
        f"generated-{r.name}" for r in recording.of_type("GeneratedPassword")
    }
    assert len(credentials) >= 4, credentials
    # Everything a reader of the cluster, the previews or the outputs sees (Secrets' values excepted).
    visible = [o for o in kubernetes_objects(recording) if o["kind"] != "Secret"]
    visible_text = "\n".join(
        itertools.chain(strings(visible), strings(release_values(recording)), strings(recording.outputs))
    )
    visible_text += "\n".join(message for _, message in recording.logs)
    annotations = [v for v in strings(visible) if len(v) == 16]
    assert annotations, "the rollout annotations are among what is checked"
    leaks = [c for c in credentials for digest in plain_digests(c) if digest in visible_text]
    assert leaks == []


def rendered_text(recording: Recording) -> str:
    """The objects as YAML text, one after the other in a stable order (registration runs concurrently)."""
    objects = kubernetes_objects(recording, show_secrets=True)
    return "---\n".join(yamlio.dump(o) for o in sorted(objects, key=lambda o: (o["kind"], o["metadata"]["name"])))


def test_the_same_config_renders_byte_identical_objects_and_values() -> None:
    first = run_program("prod", {"rocketchat:mode": "raw"}, recording=Recording())
    second = run_program("prod", {"rocketchat:mode": "raw"}, recording=Recording())
    assert rendered_text(first) == rendered_text(second)
    helm_a, helm_b = run_program("prod", recording=Recording()), run_program("prod", recording=Recording())
    assert yamlio.dump(release_values(helm_a)) == yamlio.dump(release_values(helm_b))


# --- the provider setting the in-place update depends on ---------------------------------------------------------


@pytest.mark.parametrize("value", [None, "false"])
def test_a_stack_without_mutable_secrets_is_refused_before_anything_exists(value: str | None) -> None:
    recording = Recording()
    overrides = {} if value is None else {"kubernetes:enableSecretMutable": value}
    remove = ("kubernetes:enableSecretMutable",) if value is None else ()
    with pytest.raises(ConfigError) as caught:
        run_program("dev", overrides, remove, recording=recording)
    [problem] = caught.value.problems
    got = "null" if value is None else '"false"'
    assert problem.startswith(f"kubernetes:enableSecretMutable: must be true (got {got})")
    assert "`pulumi config set kubernetes:enableSecretMutable true`" in problem
    assert recording.resources == []
