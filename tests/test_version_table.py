"""What each Rocket.Chat version serves and needs (components/version_table.py): the monolith's probe paths and the
Apps-Engine's writable directory, as the table says and as both modes render them (raw through the recording engine,
helm through the values and, where the pinned chart is at hand, real Helm)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from components.catalog import HEALTH_PATH
from components.release_values import CHART_MONOLITH_IMAGE, CHART_MONOLITH_TEMPLATE
from components.version_table import (
    APPS_ENGINE_SEED_MOUNT,
    APPS_ENGINE_VOLUME,
    APPS_RUNTIME_DIR,
    LIVEZ_PATH,
    READYZ_PATH,
    VERSION_TABLE,
    apps_engine_writable_dir,
    monolith_probes,
    row_for,
)
from components.versions import Version
from tests.conftest import deployments, pod_spec
from tools import plan
from tools.engine import Recording, reveal, run_program
from tools.plan.render import pinned_chart_dir

MONOLITH = "rocketchat-rocketchat"
SERVICES = ("rocketchat-account", "rocketchat-authorization", "rocketchat-presence", "rocketchat-ddp-streamer")
MIRROR = {"registry": "mirror.internal:5000/hub", "pullSecrets": ["mirror-pull"]}


def probe_paths(container: dict[str, Any]) -> dict[str, str]:
    return {p: container[p]["httpGet"]["path"] for p in ("startupProbe", "readinessProbe", "livenessProbe")}


def monolith_pod(recording: Recording) -> dict[str, Any]:
    return pod_spec(deployments(recording)[MONOLITH])


def release_values_of(recording: Recording) -> dict[str, Any]:
    return reveal(recording.one("Release", "rocketchat").inputs)["values"]


# --- the table --------------------------------------------------------------------------------------------------


def test_the_table_starts_at_the_oldest_version_and_every_row_names_its_source() -> None:
    assert VERSION_TABLE[0].since == Version(0, 0, 0)
    assert [r.since for r in VERSION_TABLE] == sorted(r.since for r in VERSION_TABLE)
    for row in VERSION_TABLE:
        assert row.source.strip(), row
        assert {row.probes.startup, row.probes.readiness, row.probes.liveness} <= set(row.serves), row


@pytest.mark.parametrize(
    ("version", "readiness"),
    [
        ("7.6.2", HEALTH_PATH),
        ("7.10.15", HEALTH_PATH),
        ("7.11.0", HEALTH_PATH),  # serves /readyz, whose heap check misreports until RocketChat/Rocket.Chat#38192
        ("8.2.8", HEALTH_PATH),
        ("8.3.0", READYZ_PATH),
        ("8.6.1", READYZ_PATH),
        ("9.0.0", READYZ_PATH),
    ],
)
def test_monolith_readiness_by_version(version: str, readiness: str) -> None:
    probes = monolith_probes(version)
    assert probes.readiness == readiness
    assert (probes.startup, probes.liveness) == (HEALTH_PATH, HEALTH_PATH)


def test_liveness_is_never_on_livez_which_fails_with_mongodb() -> None:
    """/livez runs the same checks as /readyz, MongoDB ping included: liveness there would restart every monolith pod
    during a database outage (docs/versions.md)."""
    assert LIVEZ_PATH in row_for("8.6.1").serves
    assert all(LIVEZ_PATH not in (r.probes.liveness, r.probes.startup) for r in VERSION_TABLE)


@pytest.mark.parametrize(
    ("version", "directory"),
    [("7.6.2", None), ("7.7.4", None), ("8.4.6", None), ("8.5.0", APPS_RUNTIME_DIR), ("8.6.1", APPS_RUNTIME_DIR)],
)
def test_the_apps_engine_needs_its_runtime_directory_writable_from_8_5(version: str, directory: str | None) -> None:
    assert apps_engine_writable_dir(version) == directory


def test_the_runtime_directory_is_the_apps_package_in_the_image_bundle() -> None:
    assert APPS_RUNTIME_DIR == "/app/bundle/programs/server/npm/node_modules/@rocket.chat/apps/deno-runtime"


# --- raw mode ---------------------------------------------------------------------------------------------------


def test_raw_probes_of_7_6_2_are_health_everywhere() -> None:
    recording = run_program("dev", {"rocketchat:version": "7.6.2"})
    found = deployments(recording)
    for name in (MONOLITH, *SERVICES, "rocketchat-stream-hub"):
        (container,) = pod_spec(found[name])["containers"]
        assert probe_paths(container) == dict.fromkeys(("startupProbe", "readinessProbe", "livenessProbe"), "/health")


def test_raw_probes_of_8_6_1_readiness_on_readyz_for_the_monolith_alone(dev: Recording) -> None:
    found = deployments(dev)
    (monolith,) = pod_spec(found[MONOLITH])["containers"]
    assert probe_paths(monolith) == {"startupProbe": "/health", "readinessProbe": "/readyz", "livenessProbe": "/health"}
    for name in SERVICES:
        (container,) = pod_spec(found[name])["containers"]
        assert set(probe_paths(container).values()) == {"/health"}, name


def test_raw_8_6_1_monolith_copies_the_runtime_directory_from_its_own_image_into_a_volume_mounted_over_it(
    dev: Recording,
) -> None:
    spec = monolith_pod(dev)
    (monolith,) = spec["containers"]
    (seed,) = spec["initContainers"]
    assert seed["image"] == monolith["image"] == "registry.rocket.chat/rocketchat/rocket.chat:8.6.1"
    assert seed["command"] == ["cp", "-R", f"{APPS_RUNTIME_DIR}/.", f"{APPS_ENGINE_SEED_MOUNT}/"]
    assert seed["volumeMounts"] == [{"name": APPS_ENGINE_VOLUME, "mountPath": APPS_ENGINE_SEED_MOUNT}]
    assert {"name": APPS_ENGINE_VOLUME, "mountPath": APPS_RUNTIME_DIR} in monolith["volumeMounts"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == APPS_ENGINE_VOLUME]
    assert volume == {"name": APPS_ENGINE_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}}
    # The same restricted profile as the monolith, with its own requests and limit.
    assert seed["securityContext"] == monolith["securityContext"]
    assert seed["securityContext"]["readOnlyRootFilesystem"] is True
    assert seed["resources"]["limits"]["memory"] and seed["resources"]["requests"]["cpu"]
    for name in SERVICES:
        service = pod_spec(deployments(dev)[name])
        assert "initContainers" not in service and APPS_ENGINE_VOLUME not in str(service["volumes"]), name


def test_raw_seed_image_follows_the_monolith_through_a_mirror_and_a_digest() -> None:
    digest = "sha256:" + "a" * 64
    images = {**MIRROR, "digests": {"monolith": digest}}
    spec = monolith_pod(run_program("dev", {"rocketchat:images": images}))
    (monolith,) = spec["containers"]
    (seed,) = spec["initContainers"]
    assert seed["image"] == monolith["image"]
    assert seed["image"].startswith("mirror.internal:5000/hub/") and seed["image"].endswith(digest)
    assert spec["imagePullSecrets"] == [{"name": "mirror-pull"}]


@pytest.mark.parametrize("version", ["7.6.2", "7.7.4", "8.4.6"])
def test_raw_versions_before_8_5_keep_the_pod_they_had(version: str) -> None:
    spec = monolith_pod(run_program("dev", {"rocketchat:version": version}))
    assert "initContainers" not in spec
    assert [m["mountPath"] for m in spec["containers"][0]["volumeMounts"]] == ["/tmp", "/app/uploads"]


# --- helm mode --------------------------------------------------------------------------------------------------


def test_helm_values_give_the_chart_the_monolith_probe_paths(prod: Recording) -> None:
    values = release_values_of(prod)
    assert values["livenessProbe"] == {"path": "/health"}
    assert values["readinessProbe"] == {"path": "/readyz"}
    old = release_values_of(run_program("prod", {"rocketchat:version": "7.6.2"}))
    assert old["livenessProbe"] == old["readinessProbe"] == {"path": "/health"}


def test_helm_values_seed_the_monolith_alone_from_the_charts_own_monolith_image(prod: Recording) -> None:
    values = release_values_of(prod)
    init = values["extraInitContainers"]
    assert f"  image: {CHART_MONOLITH_IMAGE}" in init.splitlines()
    assert APPS_RUNTIME_DIR in init
    guard = f'{{{{- if hasSuffix "{CHART_MONOLITH_TEMPLATE}" .Template.Name }}}}'
    assert guard in values["extraVolumes"] and APPS_ENGINE_VOLUME in values["extraVolumes"].split(guard, 1)[1]
    assert f'  mountPath: "{APPS_RUNTIME_DIR}"' in values["extraVolumeMounts"].split(guard, 1)[1].splitlines()
    old = release_values_of(run_program("prod", {"rocketchat:version": "8.4.6"}))
    assert "extraInitContainers" not in old and APPS_ENGINE_VOLUME not in old["extraVolumes"]


CHART_DIR = pinned_chart_dir()
needs_chart = pytest.mark.skipif(CHART_DIR is None, reason="the pinned chart is not in scripts/fetch-chart's cache")


def rendered_deployments(recording: Recording) -> dict[str, dict[str, Any]]:
    docs = plan.render_chart(Path(CHART_DIR), copy.deepcopy(release_values_of(recording)), "rocketchat", "rocketchat")
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


@needs_chart
@pytest.mark.parametrize("images", [None, MIRROR])
def test_real_helm_renders_the_seed_with_the_monolith_image_and_the_volume_in_the_monolith_alone(
    images: dict[str, Any] | None,
) -> None:
    recording = run_program("prod", {"rocketchat:images": images} if images else {})
    found = rendered_deployments(recording)
    spec = found[MONOLITH]["spec"]["template"]["spec"]
    (monolith,) = spec["containers"]
    (seed,) = spec["initContainers"]
    assert seed["image"] == monolith["image"]
    assert seed["imagePullPolicy"] == monolith["imagePullPolicy"]
    assert seed["command"] == ["cp", "-R", f"{APPS_RUNTIME_DIR}/.", f"{APPS_ENGINE_SEED_MOUNT}/"]
    assert {"name": APPS_ENGINE_VOLUME, "mountPath": APPS_RUNTIME_DIR} in monolith["volumeMounts"]
    assert monolith["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert monolith["livenessProbe"]["httpGet"]["path"] == "/health"
    for name in SERVICES:
        service = found[name]["spec"]["template"]["spec"]
        assert "initContainers" not in service and APPS_ENGINE_VOLUME not in str(service["volumes"]), name
