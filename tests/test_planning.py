"""Workload planning (components/planning.py) from the fewest sizing args a consumer of the components may give."""

from __future__ import annotations

from components.planning import plan_workloads


def test_the_version_alone_plans_one_pod_of_everything_the_version_runs() -> None:
    """Another program may leave out concurrent users, replicas and the licence: one pod each, nothing to note."""
    plans, notes = plan_workloads({"version": "8.6.1"})
    assert {plan.workload.name: plan.replicas for plan in plans} == {
        "rocketchat": 1,
        "account": 1,
        "authorization": 1,
        "presence": 1,
        "ddp-streamer": 1,
    }
    assert notes == ()


def test_a_monolith_alone_when_microservices_are_off() -> None:
    plans, notes = plan_workloads({"version": "8.6.1", "microservices": False, "monolith": {"replicas": 2}})
    assert [(plan.workload.name, plan.replicas) for plan in plans] == [("rocketchat", 2)]
    assert notes == ()
