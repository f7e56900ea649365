"""Shared fixtures: the real program run through the recording engine against the real stack files."""

from __future__ import annotations

from typing import Any

import pytest

from tools.engine import Recording, remember_runs, reveal, run_program

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
