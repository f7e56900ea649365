"""Client addresses behind the Ingress: HTTP_FORWARDED_COUNT on the processes that read X-Forwarded-For (the monolith
and ddp-streamer, docs/rocketchat-facts.md), in both modes."""

from __future__ import annotations

from typing import Any

import pytest

from stack_config import ConfigError
from tools.engine import Recording, reveal, run_program


def forwarded(recording: Recording) -> dict[str, str | None]:
    counts = {}
    for deployment in recording.of_type("Deployment"):
        (container,) = reveal(deployment.inputs)["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        counts[deployment.k8s_name] = env.get("HTTP_FORWARDED_COUNT")
    return counts


def test_one_proxy_by_default_on_the_monolith_and_ddp_streamer_alone() -> None:
    assert forwarded(run_program("dev")) == {
        "rocketchat-rocketchat": "1",
        "rocketchat-ddp-streamer": "1",
        "rocketchat-account": None,
        "rocketchat-authorization": None,
        "rocketchat-presence": None,
    }


def test_a_load_balancer_in_front_adds_a_hop() -> None:
    counts = forwarded(run_program("dev", {"rocketchat:ingress": {"className": "nginx", "proxyHops": 2}}))
    assert (counts["rocketchat-rocketchat"], counts["rocketchat-ddp-streamer"]) == ("2", "2")


def patches(recording: Recording) -> list[dict[str, Any]]:
    return [reveal(r.inputs) for r in recording.of_type("kubernetes:apps/v1:DeploymentPatch")]


def test_helm_mode_gives_the_monolith_extra_env_and_patches_ddp_streamer() -> None:
    recording = run_program("prod")
    values = reveal(recording.one("Release", "rocketchat").inputs)["values"]
    assert {"name": "HTTP_FORWARDED_COUNT", "value": "1"} in values["extraEnv"]
    (patch,) = patches(recording)
    assert patch["metadata"]["name"] == "rocketchat-ddp-streamer"
    assert patch["metadata"]["namespace"] == "rocketchat"
    assert patch["spec"] == {
        "template": {
            "spec": {"containers": [{"name": "ddp-streamer", "env": [{"name": "HTTP_FORWARDED_COUNT", "value": "1"}]}]}
        }
    }
    (release,) = [r for r in recording.resources if r.kind == "Release"]
    (made,) = [r for r in recording.resources if r.kind == "DeploymentPatch"]
    assert release.urn in made.dependencies, "the patch follows the Release that made the Deployment"


def test_a_monolith_alone_in_helm_mode_needs_no_patch() -> None:
    assert patches(run_program("prod", {"rocketchat:microservices": False})) == []


@pytest.mark.parametrize("hops", [-1, 11, "1"])
def test_a_count_that_cannot_be_is_refused(hops: Any) -> None:
    with pytest.raises(ConfigError) as error:
        run_program("dev", {"rocketchat:ingress": {"className": "nginx", "proxyHops": hops}})
    assert error.value.problems[0].startswith("rocketchat:ingress.proxyHops")


def test_another_count_is_another_patch_that_takes_the_field_over() -> None:
    """The provider would show a patch's env list as changed in every preview (it compares it with the live list by
    position): the patch's spec is left out of diffs, and a new count is a new patch, forced over the old one."""
    recording = run_program("prod", {"rocketchat:ingress": {**PROD_INGRESS, "proxyHops": 2}})
    (made,) = recording.of_type("kubernetes:apps/v1:DeploymentPatch")
    assert made.name == "rocketchat-ddp-streamer-client-address-2"
    assert made.ignore_changes == ["spec"]
    assert made.retain_on_delete  # the provider refuses to delete a patch co-owning spec.selector
    assert reveal(made.inputs)["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
    (default,) = run_program("prod").of_type("kubernetes:apps/v1:DeploymentPatch")
    assert default.name == "rocketchat-ddp-streamer-client-address"


PROD_INGRESS = {"className": "nginx", "tls": {"secretName": "rocketchat-tls", "clusterIssuer": "letsencrypt-prod"}}
