"""The Ingress (and the websocket Service) tuned for the controller that serves the class, in both modes."""

from __future__ import annotations

from typing import Any

import pytest

from stack_config import ConfigError
from tools.engine import Recording, reveal, run_program

RAW = {"rocketchat:mode": "raw"}


def ingress(className: str, **more: Any) -> dict[str, Any]:
    return {"rocketchat:ingress": {"className": className, **more}}


def annotations(recording: Recording, kind: str, name: str) -> dict[str, str]:
    found = reveal(recording.one(kind, name).inputs)["metadata"].get("annotations") or {}
    return {k: v for k, v in found.items() if not k.startswith(("pulumi.com/", "rocketchat.chat/"))}


def test_ingress_nginx_is_what_class_nginx_gets_as_before() -> None:
    assert annotations(run_program("prod", RAW), "Ingress", "rocketchat") == {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-body-size": "100m",
        "nginx.ingress.kubernetes.io/affinity": "cookie",
        "nginx.ingress.kubernetes.io/session-cookie-name": "rc_affinity",
        "nginx.ingress.kubernetes.io/session-cookie-max-age": "10800",
        "cert-manager.io/cluster-issuer": "letsencrypt-prod",
    }


def test_f5_nginx_names_the_websocket_service() -> None:
    recording = run_program("prod", {**RAW, **ingress("nginx", controller="f5-nginx")})
    found = annotations(recording, "Ingress", "rocketchat")
    assert found["nginx.org/websocket-services"] == "rocketchat-ddp-streamer"
    assert found["nginx.org/sticky-cookie-services"].startswith("serviceName=rocketchat-ddp-streamer rc_affinity")
    assert not any(k.startswith("nginx.ingress.kubernetes.io/") for k in found)


def test_a_monolith_alone_serves_its_websockets_itself() -> None:
    recording = run_program("dev", {"rocketchat:microservices": False, **ingress("nginx", controller="f5-nginx")})
    assert annotations(recording, "Ingress", "rocketchat")["nginx.org/websocket-services"] == "rocketchat-rocketchat"


def test_traefik_reads_its_affinity_on_the_websocket_service() -> None:
    raw = run_program("prod", {**RAW, **ingress("traefik")})
    assert annotations(raw, "Ingress", "rocketchat") == {}
    assert annotations(raw, "Service", "rocketchat-ddp-streamer") == {
        "traefik.ingress.kubernetes.io/service.sticky.cookie": "true",
        "traefik.ingress.kubernetes.io/service.sticky.cookie.name": "rc_affinity",
        "traefik.ingress.kubernetes.io/service.sticky.cookie.maxage": "10800",
    }
    assert annotations(raw, "Service", "rocketchat-rocketchat") == {}
    helm = run_program("prod", ingress("traefik"))
    (release,) = helm.of_type("Release")
    assert (
        reveal(release.inputs)["values"]["service"]["annotations"][
            "traefik.ingress.kubernetes.io/service.sticky.cookie"
        ]
        == "true"
    )


def test_no_sticky_sessions_means_no_affinity_anywhere() -> None:
    raw = run_program("prod", {**RAW, **ingress("traefik", stickySessions=False)})
    assert annotations(raw, "Service", "rocketchat-ddp-streamer") == {}
    nginx = run_program("prod", {**RAW, **ingress("nginx", stickySessions=False)})
    assert "nginx.ingress.kubernetes.io/affinity" not in annotations(nginx, "Ingress", "rocketchat")


def test_an_unknown_class_gets_nothing_invented_and_a_warning() -> None:
    recording = run_program("prod", {**RAW, **ingress("acme-edge")})
    assert annotations(recording, "Ingress", "rocketchat") == {}
    (warning,) = [m for _, m in recording.logs if "acme-edge" in m]
    assert "rocketchat:ingress.className acme-edge is no controller this program knows" in warning
    assert "rocketchat:ingress.controller (one of ingress-nginx, f5-nginx, traefik" in warning


def test_a_controller_nobody_knows_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError) as error:
        run_program("prod", ingress("nginx", controller="nginx-plus"))
    (problem,) = error.value.problems
    assert problem.startswith("rocketchat:ingress.controller")
    assert "f5-nginx" in problem and "traefik" in problem


def test_the_services_carry_no_controller_annotation_when_the_gateway_alone_serves() -> None:
    gateway = {"rocketchat:gateway": {"parentRefs": [{"name": "public"}]}, **ingress("traefik")}
    raw = run_program("prod", {**RAW, **gateway})
    assert annotations(raw, "Service", "rocketchat-ddp-streamer") == {}
