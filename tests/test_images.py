"""Images from a registry mirror, with pull secrets, pinned by digest where asked; and the list to mirror."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.images import ImageRef, parse, resolve
from stack_config import ConfigError
from tools.engine import Recording, reveal, run_program
from tools.plan.cli import main as plan_main

MIRROR = {"registry": "mirror.internal:5000/hub", "pullSecrets": ["mirror-pull"]}
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        (
            "registry.rocket.chat/rocketchat/rocket.chat:8.6.1",
            ImageRef("registry.rocket.chat", "rocketchat/rocket.chat", "8.6.1"),
        ),
        ("docker.io/rocketchat/account-service:8.6.1", ImageRef("docker.io", "rocketchat/account-service", "8.6.1")),
        ("nats:2.12-alpine", ImageRef("docker.io", "library/nats", "2.12-alpine")),
        ("rocketchat/ddp-streamer-service:8.6.1", ImageRef("docker.io", "rocketchat/ddp-streamer-service", "8.6.1")),
        ("localhost:5000/team/app:1", ImageRef("localhost:5000", "team/app", "1")),
    ],
)
def test_a_reference_is_read_as_a_registry_a_path_and_a_tag(reference: str, parsed: ImageRef) -> None:
    assert parse(reference) == parsed


def test_a_mirror_keeps_the_path_and_a_digest_keeps_the_tag() -> None:
    ref = resolve(
        "registry.rocket.chat/rocketchat/rocket.chat",
        {"registry": "m.example/", "digests": {"monolith": DIGEST}},
        "monolith",
        "8.6.1",
    )
    assert str(ref) == f"m.example/rocketchat/rocket.chat:8.6.1@{DIGEST}"
    assert str(resolve("docker.io/library/nats:2.12.1-alpine", None, "nats")) == "docker.io/library/nats:2.12.1-alpine"
    with pytest.raises(ValueError, match="names no tag"):
        parse("m.example:5000/path")


def pods(recording: Recording) -> dict[str, dict[str, Any]]:
    return {
        r.k8s_name: reveal(r.inputs)["spec"]["template"]["spec"]
        for r in recording.of_type("Deployment") + recording.of_type("StatefulSet")
    }


def test_every_pod_of_a_raw_stack_pulls_from_the_mirror_with_the_pull_secret() -> None:
    overrides = {
        "rocketchat:images": {**MIRROR, "digests": {"ddpStreamer": DIGEST, "natsExporter": DIGEST}},
        "rocketchat:monitoring": {"podMonitor": True},
    }
    found = pods(run_program("dev", overrides))
    assert len(found) == 7
    for name, spec in found.items():
        assert spec["imagePullSecrets"] == [{"name": "mirror-pull"}], name
        assert all(c["image"].startswith("mirror.internal:5000/hub/") for c in spec["containers"]), name
    assert found["rocketchat-ddp-streamer"]["containers"][0]["image"].endswith(f":8.6.1@{DIGEST}")
    nats_images = {c["name"]: c["image"] for c in found["rocketchat-nats"]["containers"]}
    assert nats_images["metrics"] == f"mirror.internal:5000/hub/natsio/prometheus-nats-exporter:0.18.0@{DIGEST}"
    assert nats_images["nats"] == "mirror.internal:5000/hub/library/nats:2.12.1-alpine"


def test_without_images_nothing_changes() -> None:
    for spec in pods(run_program("dev")).values():
        assert "imagePullSecrets" not in spec
        assert not any(c["image"].startswith("mirror") for c in spec["containers"])


def test_helm_mode_hands_the_mirror_and_the_pull_secret_to_the_chart() -> None:
    recording = run_program("prod", {"rocketchat:images": MIRROR})
    values = reveal(recording.one("Release", "rocketchat").inputs)["values"]
    assert values["global"] == {"imageRegistry": "mirror.internal:5000/hub"}
    assert values["imagePullSecrets"] == [{"name": "mirror-pull"}]
    assert values["image"] == {"tag": "8.6.1", "repository": "rocketchat/rocket.chat"}
    assert values["microservices"]["ddpStreamer"]["image"] == {"repository": "rocketchat/ddp-streamer-service"}
    nats = pods(recording)["rocketchat-nats"]
    assert nats["containers"][0]["image"].startswith("mirror.internal:5000/hub/library/nats:")


def refused(overrides: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        run_program("prod", overrides)
    return error.value.problems


def test_helm_mode_refuses_a_digest_the_chart_cannot_pin() -> None:
    (problem,) = refused({"rocketchat:images": {"digests": {"account": DIGEST, "nats": DIGEST}}})
    assert problem.startswith("rocketchat:images.digests.account: the official chart gives every Rocket.Chat image")


def test_the_charts_bundled_nats_cannot_follow_a_mirror() -> None:
    (problem,) = refused({"rocketchat:images": MIRROR, "rocketchat:nats": {"bundled": True}})
    assert problem.startswith("rocketchat:images.registry: the chart's bundled NATS")


@pytest.mark.parametrize(
    ("images", "key"),
    [
        ({"registry": "https://mirror.internal"}, "rocketchat:images.registry"),
        ({"digests": {"nats": "sha256:abc"}}, "rocketchat:images.digests.nats"),
        ({"digests": {"natz": DIGEST}}, "rocketchat:images.digests"),
        ({"pullSecrets": ["Not_A_Name"]}, "rocketchat:images.pullSecrets"),
    ],
)
def test_a_bad_image_setting_names_its_key(images: dict[str, Any], key: str) -> None:
    problems = refused({"rocketchat:images": images, "rocketchat:mode": "raw"})
    assert any(p.startswith(key) for p in problems), problems


def test_the_image_list_of_a_raw_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_main(["images", "--stack", "dev", "--set", 'rocketchat:images={"registry": "m.internal"}']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  # ")[0] for line in lines] == [
        "m.internal/library/mongo:7.0.25",
        "m.internal/library/nats:2.12.1-alpine",
        "m.internal/rocketchat/account-service:8.6.1",
        "m.internal/rocketchat/authorization-service:8.6.1",
        "m.internal/rocketchat/ddp-streamer-service:8.6.1",
        "m.internal/rocketchat/presence-service:8.6.1",
        "m.internal/rocketchat/rocket.chat:8.6.1",
    ]
    assert lines[-1].endswith("# Deployment/rocketchat-dev/rocketchat-rocketchat")


def test_helm_mode_lists_the_charts_images_or_says_it_needs_the_chart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROCKETCHAT_CHART_CACHE", str(tmp_path))
    monkeypatch.delenv("ROCKETCHAT_CHART_DIR", raising=False)
    assert plan_main(["images", "--stack", "prod"]) == 2
    assert "the chart's images are known only from the chart" in capsys.readouterr().err


def fetched_chart() -> Path | None:
    from tools.plan.render import pinned_chart_dir

    return pinned_chart_dir()


@pytest.mark.skipif(fetched_chart() is None, reason="the pinned chart is not fetched (scripts/fetch-chart)")
def test_every_pod_the_chart_renders_pulls_from_the_mirror_with_the_pull_secret() -> None:
    """Real Helm renders the chart with the stack's values: the chart's Rocket.Chat pods follow
    `global.imageRegistry` and carry the pull secret."""
    from tools.plan.images import pod_spec, stack_images
    from tools.plan.render import render_stack

    rendered = render_stack("prod", {"rocketchat:images": MIRROR}, chart_dir=fetched_chart())
    images = stack_images(rendered.objects)
    assert images and all(image.startswith("mirror.internal:5000/hub/") for image in images), sorted(images)
    chart_pods = [o for o in rendered.objects if o.source.startswith("chart:") and pod_spec(o.document) is not None]
    assert len(chart_pods) == 5  # the monolith, account, authorization, presence, ddp-streamer
    for obj in chart_pods:
        annotations = (obj.document.get("metadata") or {}).get("annotations") or {}
        if "test" in str(annotations.get("helm.sh/hook", "")):
            continue
        assert pod_spec(obj.document).get("imagePullSecrets") == [{"name": "mirror-pull"}], obj.key
