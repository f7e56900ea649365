"""Shared fixtures: the real program run through the recording engine against the real stack files."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from typing import Any

import pulumi
import pytest

from components import support_window
from tools.engine import Recording, RecordingMocks, RecordingMonitor, World, remember_runs, reveal, run_program
from tools.variants import OBSERVED_PROD_RAW

# The suite judges Rocket.Chat's support window on one fixed day, never the clock's, so that no stack's warnings change
# with the day the tests run (components/support_window.py). Tests of the window pass their own days, or pin another
# one with monkeypatch.
SUITE_TODAY = date(2026, 12, 3)
"""A day within the support window of the version the stack files pin (8.6.1, supported to 2027-01-10)."""
CLOCK_TODAY = support_window.today
support_window.today = lambda: SUITE_TODAY

# Many tests look at the same stack with the same config: run the program once for each, hand out copies.
remember_runs()


@pytest.fixture(scope="session")
def dev() -> Recording:
    """Pulumi.dev.yaml exactly as committed."""
    return run_program("dev")


@pytest.fixture(scope="session")
def prod() -> Recording:
    """Pulumi.prod.yaml exactly as committed (secure values replaced by placeholders)."""
    return run_program("prod")


@pytest.fixture(scope="session")
def prod_raw() -> Recording:
    """The production-sized stack rendered as raw resources instead of the chart."""
    return run_program("prod", {"rocketchat:mode": "raw"})


@pytest.fixture(scope="session")
def prod_raw_observed() -> Recording:
    """The production-sized raw stack with monitoring and autoscaling on (tools.variants)."""
    return run_program("prod", OBSERVED_PROD_RAW)


def pod_spec(resource: Any) -> dict[str, Any]:
    return reveal(resource.inputs)["spec"]["template"]["spec"]


def container(resource: Any) -> dict[str, Any]:
    containers = pod_spec(resource)["containers"]
    assert len(containers) == 1
    return containers[0]


def env(resource: Any) -> dict[str, dict[str, Any]]:
    """Env var name -> its definition (`value` or `valueFrom`) for a single-container workload."""
    return {e["name"]: e for e in container(resource).get("env", [])}


def secret_ref(resource: Any, name: str) -> tuple[str, str]:
    ref = env(resource)[name]["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def deployments(recording: Recording) -> dict[str, Any]:
    return {r.k8s_name: r for r in recording.of_type("kubernetes:apps/v1:Deployment")}


# --- each component alone, in Pulumi's own test style ---------------------------------------------------------


@pytest.fixture
def recording() -> Iterator[Recording]:
    """Pulumi's mocks, recording every registration (the engine the whole-program tests use, on this thread)."""
    loop = asyncio.new_event_loop()  # a test of its own, whatever ran on this thread before
    asyncio.set_event_loop(loop)
    recorded = Recording()
    mocks = RecordingMocks(recorded, World())
    pulumi.runtime.set_mocks(mocks, project="components", stack="test", preview=False, monitor=RecordingMonitor(mocks))
    yield recorded
    loop.close()


def built(make: Any) -> Any:
    """Runs `make` as a Pulumi program (`@pulumi.runtime.test`) and returns what its outputs resolved to, once every
    registration has finished: the recording is complete when it returns."""
    resolved: list[Any] = []

    @pulumi.runtime.test
    def program() -> Any:
        return pulumi.Output.from_input(make()).apply(resolved.append)

    program()
    return resolved[0]


def children(recording: Recording, component: pulumi.Resource | str) -> dict[str, dict[str, Any]]:
    """`Kind/name` -> inputs of every resource registered directly under the component (by its URN's last part)."""
    name = component if isinstance(component, str) else component._name  # type: ignore[attr-defined]
    parents = {r.urn for r in recording.resources if r.urn.endswith(f"::{name}") and r.type.startswith("rocketchat:")}
    return {f"{r.kind}/{r.name}": reveal(r.inputs) for r in recording.resources if r.parent in parents}
