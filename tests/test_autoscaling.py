"""Autoscaling (`monolith.autoscaling`, `services.<name>.autoscaling`): a HorizontalPodAutoscaler per autoscaled
workload, a Deployment whose count `pulumi up` leaves to it, budgets and spreading sized for the most pods, the
`replicas` output as `min..max`, and the rules on the bounds. The real engine's side (a count the autoscaler set
survives `pulumi up`) is tests/e2e/test_autoscaling.py."""

from __future__ import annotations

from typing import Any

import pytest

from components.catalog import DDP_STREAMER, STREAM_HUB
from components.planning import Autoscaling, BelowSizing, Unlicensed, autoscaling_for, plan_workloads
from tests.conftest import deployments, pod_spec
from tools.engine import Recording, Secret, reveal, run_program

DDP_STREAMER_AUTOSCALED = {"ddpStreamer": {"autoscaling": {"maxReplicas": 8}}}


def autoscalers(recording: Recording) -> dict[str, dict[str, Any]]:
    return {r.k8s_name: reveal(r.inputs)["spec"] for r in recording.of_type("HorizontalPodAutoscaler")}


@pytest.fixture(scope="module")
def autoscaled() -> Recording:
    """The dev stack at 1000 concurrent users with ddp-streamer autoscaled up to 8 pods."""
    return run_program("dev", {"rocketchat:concurrentUsers": 1000, "rocketchat:services": DDP_STREAMER_AUTOSCALED})


def test_an_autoscaled_workload_gets_an_autoscaler_on_its_deployment_from_its_sizing_up_to_its_maximum(
    autoscaled: Recording,
) -> None:
    assert autoscalers(autoscaled) == {
        "rocketchat-ddp-streamer": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "rocketchat-ddp-streamer"},
            # The floor stays one pod per 500 users: 1000 users, 2 pods.
            "minReplicas": 2,
            "maxReplicas": 8,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        }
    }
    (hpa,) = autoscaled.of_type("HorizontalPodAutoscaler")
    assert reveal(hpa.inputs)["metadata"]["namespace"] == "rocketchat-dev"
    streamer = deployments(autoscaled)["rocketchat-ddp-streamer"]
    assert streamer.urn in hpa.dependencies, "the autoscaler is created once its Deployment exists"
    # The CPU target is a share of the request: every container has one.
    assert pod_spec(streamer)["containers"][0]["resources"]["requests"]["cpu"] == "250m"


def test_pulumi_leaves_the_count_of_an_autoscaled_deployment_to_its_autoscaler(autoscaled: Recording) -> None:
    ignored = {name: d.ignore_changes for name, d in deployments(autoscaled).items()}
    assert ignored.pop("rocketchat-ddp-streamer") == ["spec.replicas"]
    assert all(paths == [] for paths in ignored.values()), ignored  # the rest: `pulumi up` sets their counts
    # Created at the autoscaler's minimum, so nothing starts below the floor.
    assert reveal(deployments(autoscaled)["rocketchat-ddp-streamer"].inputs)["spec"]["replicas"] == 2
    # Who sets the count is on the object; the annotation comes and goes with autoscaling, so turning it off is a
    # change Pulumi applies (setting the count again) even where the count's input itself did not change.
    annotations = {n: reveal(d.inputs)["metadata"]["annotations"] for n, d in deployments(autoscaled).items()}
    assert annotations.pop("rocketchat-ddp-streamer")["rocketchat.chat/autoscaled-by"] == "rocketchat-ddp-streamer"
    assert not any("rocketchat.chat/autoscaled-by" in a for a in annotations.values())


def test_the_replicas_output_says_min_to_max_where_a_workload_autoscales(autoscaled: Recording) -> None:
    assert autoscaled.outputs["replicas"] == {
        "rocketchat": 1,
        "account": 1,
        "authorization": 1,
        "presence": 1,
        "ddp-streamer": "2..8",
        "nats": 1,
        "mongodb": 1,
    }


def test_budgets_and_spreading_hold_at_any_count_the_autoscaler_picks() -> None:
    """A presence autoscaled from 1 to 4 pods: the budget (at most one pod down in a drain) and the spreading over
    nodes are there from the start, because the autoscaler may add pods at any time."""
    recording = run_program(
        "dev",
        {
            "rocketchat:services": {"presence": {"autoscaling": {"maxReplicas": 4}}},
            "rocketchat:license": Secret("licence-text"),
        },
    )
    presence = deployments(recording)["rocketchat-presence"]
    assert reveal(presence.inputs)["spec"]["replicas"] == 1
    budgets = {r.k8s_name: reveal(r.inputs)["spec"] for r in recording.of_type("PodDisruptionBudget")}
    assert budgets["rocketchat-presence"]["maxUnavailable"] == 1  # never minAvailable: right at 1 pod and at 4
    spread = pod_spec(presence)["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert all(c["whenUnsatisfiable"] == "ScheduleAnyway" for c in spread)
    assert autoscalers(recording)["rocketchat-presence"]["minReplicas"] == 1


def test_the_monolith_autoscales_from_its_replicas_with_its_own_target() -> None:
    recording = run_program(
        "dev",
        {
            "rocketchat:monolith": {
                "replicas": 2,
                "autoscaling": {"maxReplicas": 6, "targetCPUUtilizationPercentage": 60},
            }
        },
    )
    spec = autoscalers(recording)["rocketchat-rocketchat"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert recording.outputs["replicas"]["rocketchat"] == "2..6"


def test_without_autoscaling_no_autoscaler_and_pulumi_owns_every_count(dev: Recording) -> None:
    assert autoscalers(dev) == {}
    assert all(d.ignore_changes == [] for d in deployments(dev).values())
    assert all(isinstance(n, int) for n in dev.outputs["replicas"].values())


def test_an_unlicensed_autoscaler_that_may_run_two_pods_of_a_service_warns() -> None:
    recording = run_program("dev", {"rocketchat:services": {"account": {"autoscaling": {"maxReplicas": 3}}}})
    warnings = [text for level, text in recording.logs if level == "warn"]
    assert any(
        w.startswith("rocketchat:services.account.autoscaling.maxReplicas is 3 but no rocketchat:license is set")
        for w in warnings
    ), warnings


# --- the pure rules --------------------------------------------------------------------------------------------


def test_the_minimum_defaults_to_the_pods_the_workload_would_run() -> None:
    assert autoscaling_for(DDP_STREAMER, {"max_replicas": 9}, replicas=4) == Autoscaling(4, 9, 70)
    assert autoscaling_for(DDP_STREAMER, {"max_replicas": 9, "min_replicas": 2}, replicas=4) == Autoscaling(2, 9, 70)
    assert autoscaling_for(DDP_STREAMER, None, replicas=4) is None
    assert str(Autoscaling(2, 9)) == "2..9"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"max_replicas": 1, "min_replicas": 2}, "1 <= min_replicas <= max_replicas (got 2..1)"),
        ({"max_replicas": 0}, "got 3..0"),
    ],
)
def test_bounds_that_cannot_hold_are_refused(given: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        autoscaling_for(DDP_STREAMER, given, replicas=3)


def test_stream_hub_never_autoscales() -> None:
    with pytest.raises(ValueError, match="stream-hub runs exactly one pod"):
        autoscaling_for(STREAM_HUB, {"max_replicas": 2}, replicas=1)


def test_a_minimum_below_the_sizing_and_an_unlicensed_maximum_are_noted() -> None:
    plans, notes = plan_workloads(
        {
            "version": "8.6.1",
            "concurrent_users": 2000,
            "services": {"ddp_streamer": {"autoscaling": {"min_replicas": 2, "max_replicas": 8}}},
        }
    )
    streamer = next(p for p in plans if p.workload is DDP_STREAMER)
    assert (streamer.replicas, streamer.max_replicas, streamer.count) == (2, 8, "2..8")
    assert BelowSizing(2, 4, 2000, autoscaled=True) in notes
    assert Unlicensed(DDP_STREAMER, 8, autoscaled=True) in notes
