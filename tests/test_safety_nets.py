"""Behaviours a realistic slip in the program would break without anyone noticing, each held in every stack where it
applies: the namespace's default deny, secrets kept out of review diffs, NATS's graceful shutdown, pods that still
schedule on clusters without zone labels, and passwords that never break the URLs they go into."""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import quote

import pytest

from components.nats import LAME_DUCK_DURATION, LAME_DUCK_GRACE, render_nats_config
from components.passwords import ALPHABET, generate
from tools.engine import Recording, Secret, reveal, run_program
from tools.plan import compare_renders, format_text, render_stack

# The stacks the suite runs as a user would, by their fixtures' names.
STACKS = ["dev", "prod", "prod_raw"]


def objects(recording: Recording, kind: str) -> dict[str, dict[str, Any]]:
    return {r.k8s_name: reveal(r.inputs) for r in recording.of_type(kind)}


@pytest.mark.parametrize("stack", STACKS)
def test_the_namespace_denies_ingress_by_default_in_every_stack_with_its_own_nats(
    request: pytest.FixtureRequest, stack: str
) -> None:
    """External MongoDB (prod, both modes) or in-cluster (dev): the stack's NATS and its database are described by the
    policies, so everything else is denied."""
    recording: Recording = request.getfixturevalue(stack)
    policies = objects(recording, "NetworkPolicy")
    assert "rocketchat-default-deny-ingress" in policies, sorted(policies)
    spec = policies["rocketchat-default-deny-ingress"]["spec"]
    assert spec["podSelector"] in ({}, {"matchLabels": None}) or not any(spec["podSelector"].values())
    assert spec["policyTypes"] == ["Ingress"] and not spec.get("ingress")


def test_a_stack_with_the_charts_own_nats_has_no_default_deny() -> None:
    """The chart's NATS pods are described by no policy here: denying by default would cut the bus."""
    recording = run_program("prod", {"rocketchat:nats": {"replicas": 3, "bundled": True}})
    assert "rocketchat-default-deny-ingress" not in objects(recording, "NetworkPolicy")


def test_a_review_diff_of_a_new_credential_shows_the_secret_changed_and_no_value() -> None:
    rotated = "mongodb://rocketchat:a-rotated-password@mongo-0.example.net:27017/rocketchat?replicaSet=rs0"
    key = "one-comparison-key"  # as `tools.plan diff` gives both its renders
    before = json.loads(json.dumps(render_stack("prod", redaction_key=key).to_json()))
    after = render_stack("prod", {"rocketchat:mongoUrl": Secret(rotated)}, redaction_key=key).to_json()
    after = json.loads(json.dumps(after))
    out = format_text(compare_renders("prod", "HEAD", before, after))
    assert "changed: Secret/rocketchat/rocketchat-mongodb" in out, out
    assert "a-rotated-password" not in out and "placeholder-password" not in out
    assert "-  mongo-uri: <redacted:" in out and "+  mongo-uri: <redacted:" in out, (
        "the change shows, its value does not"
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_nats_outlives_its_lame_duck_before_it_is_killed(request: pytest.FixtureRequest, stack: str) -> None:
    """Kubernetes kills the pod after terminationGracePeriodSeconds: it must cover the lame-duck grace and duration,
    or clients are cut off instead of moved to a peer."""
    recording: Recording = request.getfixturevalue(stack)
    nats = objects(recording, "StatefulSet")["rocketchat-nats"]["spec"]["template"]["spec"]
    seconds = lambda text: int(text.removesuffix("s"))  # noqa: E731
    assert nats["terminationGracePeriodSeconds"] > seconds(LAME_DUCK_GRACE) + seconds(LAME_DUCK_DURATION)
    [container] = nats["containers"]
    assert container["lifecycle"]["preStop"]["exec"]["command"][-1].startswith("--signal=ldm=")
    conf = render_nats_config(client_password="p", route_password="r", routes=["a:6222"])
    assert f"lame_duck_duration: {LAME_DUCK_DURATION}" in conf and f"lame_duck_grace_period: {LAME_DUCK_GRACE}" in conf


@pytest.mark.parametrize("stack", STACKS)
def test_spreading_never_leaves_a_pod_pending(request: pytest.FixtureRequest, stack: str) -> None:
    """Clusters without zone labels exist: a `DoNotSchedule` spread over zones would leave every pod Pending there."""
    recording: Recording = request.getfixturevalue(stack)
    constraints = [
        (name, c)
        for kind in ("Deployment", "StatefulSet")
        for name, w in objects(recording, kind).items()
        for c in w["spec"]["template"]["spec"].get("topologySpreadConstraints") or []
    ]
    if stack != "dev":  # dev runs one pod of everything: nothing to spread
        assert constraints, "replicated workloads spread"
        assert {c["topologyKey"] for _, c in constraints} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert [n for n, c in constraints if c["whenUnsatisfiable"] != "ScheduleAnyway"] == []


def test_the_password_alphabet_never_breaks_a_url_or_a_config_string() -> None:
    """Every character a password can hold, not a sample: it goes unescaped into TRANSPORTER, MONGO_URL, nats.conf."""
    assert set(ALPHABET) <= set(string.ascii_letters + string.digits)
    assert quote(ALPHABET, safe="") == ALPHABET
    assert len(set(ALPHABET)) == 62, "letters and digits, all of them: 32 characters give ~190 bits"
    assert set(generate(4096)) <= set(ALPHABET)
