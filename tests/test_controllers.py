"""components.controllers: each controller's annotations as its own documentation spells them (see `sources`)."""

from __future__ import annotations

import pytest

from components import ingress
from components.controllers import (
    CONTROLLERS,
    STREAMING_PATHS,
    Controller,
    Streaming,
    controller_for,
)

DDP = Streaming(service="rocketchat-ddp-streamer")
MONOLITH_ALONE = Streaming(service="rocketchat", paths=("/",))


def all_annotations(controller: Controller) -> dict[str, str]:
    """Everything a controller may write, on the Ingress or the Service, sticky or not."""
    written: dict[str, str] = {}
    for sticky in (False, True):
        written |= controller.ingress_annotations(sticky, DDP) | controller.service_annotations(sticky)
    return written


def test_ingress_nginx_keeps_todays_annotations() -> None:
    nginx = CONTROLLERS["ingress-nginx"]
    timeouts = {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-body-size": "100m",
    }
    assert nginx.ingress_annotations(False, DDP) == timeouts
    assert nginx.ingress_annotations(True, DDP) == timeouts | {
        "nginx.ingress.kubernetes.io/affinity": "cookie",
        "nginx.ingress.kubernetes.io/session-cookie-name": "rc_affinity",
        "nginx.ingress.kubernetes.io/session-cookie-max-age": "10800",
    }
    assert nginx.service_annotations(True) == {}
    # components/ingress.py takes its tuning from here now (tests/test_ingress_controllers.py: what the Ingress of
    # a stack with class `nginx` carries).
    assert ingress.NGINX_STICKY_ANNOTATIONS == {
        "nginx.ingress.kubernetes.io/affinity": "cookie",
        "nginx.ingress.kubernetes.io/session-cookie-name": "rc_affinity",
        "nginx.ingress.kubernetes.io/session-cookie-max-age": "10800",
    }


def test_f5_nginx_names_the_websocket_service_and_its_sticky_cookie() -> None:
    f5 = CONTROLLERS["f5-nginx"]
    base = {
        "nginx.org/websocket-services": "rocketchat-ddp-streamer",
        "nginx.org/proxy-read-timeout": "3600s",
        "nginx.org/proxy-send-timeout": "3600s",
        "nginx.org/client-max-body-size": "100m",
    }
    assert f5.ingress_annotations(False, DDP) == base
    assert f5.ingress_annotations(True, DDP) == base | {
        "nginx.org/sticky-cookie-services": "serviceName=rocketchat-ddp-streamer rc_affinity expires=10800s path=/"
    }
    assert f5.service_annotations(True) == {}


def test_f5_nginx_with_a_monolith_alone_names_the_monolith() -> None:
    annotations = CONTROLLERS["f5-nginx"].ingress_annotations(True, MONOLITH_ALONE)
    assert annotations["nginx.org/websocket-services"] == "rocketchat"
    assert annotations["nginx.org/sticky-cookie-services"].startswith("serviceName=rocketchat ")


def test_traefik_sticky_cookie_is_on_the_service_and_nothing_on_the_ingress() -> None:
    traefik = CONTROLLERS["traefik"]
    for sticky in (False, True):
        assert traefik.ingress_annotations(sticky, DDP) == {}
    assert traefik.service_annotations(False) == {}
    assert traefik.service_annotations(True) == {
        "traefik.ingress.kubernetes.io/service.sticky.cookie": "true",
        "traefik.ingress.kubernetes.io/service.sticky.cookie.name": "rc_affinity",
        "traefik.ingress.kubernetes.io/service.sticky.cookie.maxage": "10800",
    }
    assert any("respondingTimeouts" in note for note in traefik.notes)


def test_haproxy_cookie_persistence_is_on_the_service_and_the_tunnel_timeout_in_its_configmap() -> None:
    haproxy = CONTROLLERS["haproxy"]
    for sticky in (False, True):
        assert haproxy.ingress_annotations(sticky, DDP) == {}
    assert haproxy.service_annotations(False) == {}
    assert haproxy.service_annotations(True) == {"haproxy.org/cookie-persistence": "rc_affinity"}
    assert any("timeout-tunnel" in note for note in haproxy.notes)


def test_contour_enables_websockets_on_the_streaming_routes_and_no_sticky_annotation() -> None:
    contour = CONTROLLERS["contour"]
    expected = {
        "projectcontour.io/websocket-routes": "/websocket,/sockjs",
        "projectcontour.io/response-timeout": "infinity",
    }
    assert contour.ingress_annotations(False, DDP) == expected
    assert contour.ingress_annotations(True, DDP) == expected
    assert contour.ingress_annotations(True, MONOLITH_ALONE)["projectcontour.io/websocket-routes"] == "/"
    assert contour.service_annotations(True) == {}
    assert any("stream-idle-timeout" in note for note in contour.notes)


@pytest.mark.parametrize("key", ["cilium", "istio"])
def test_controllers_without_tuning_annotations_write_none(key: str) -> None:
    controller = CONTROLLERS[key]
    for sticky in (False, True):
        assert controller.ingress_annotations(sticky, DDP) == {}
        assert controller.service_annotations(sticky) == {}
    assert controller.notes


def test_cilium_says_where_its_idle_timeout_is() -> None:
    assert any("envoy.streamIdleTimeoutDurationSeconds" in note for note in CONTROLLERS["cilium"].notes)


@pytest.mark.parametrize("controller", CONTROLLERS.values(), ids=list(CONTROLLERS))
def test_every_controller_has_a_source_and_its_key(controller: Controller) -> None:
    assert controller.sources
    assert all(source.strip() for source in controller.sources)
    assert CONTROLLERS[controller.key] is controller
    assert controller.class_names


@pytest.mark.parametrize("controller", CONTROLLERS.values(), ids=list(CONTROLLERS))
def test_annotations_use_only_the_controllers_own_prefixes(controller: Controller) -> None:
    others = {prefix for other in CONTROLLERS.values() if other is not controller for prefix in other.prefixes}
    for name in all_annotations(controller):
        assert name.startswith(controller.prefixes), name
        assert not name.startswith(tuple(others)), name


def test_prefixes_belong_to_one_controller_each() -> None:
    prefixes = [prefix for controller in CONTROLLERS.values() for prefix in controller.prefixes]
    assert len(prefixes) == len(set(prefixes))


def test_class_names_map_to_their_usual_controller() -> None:
    expected = {"nginx": "ingress-nginx", "traefik": "traefik", "haproxy": "haproxy", "contour": "contour"}
    expected |= {"cilium": "cilium", "istio": "istio"}
    for class_name, key in expected.items():
        assert controller_for(class_name) is CONTROLLERS[key]


def test_nginx_is_shared_and_means_ingress_nginx() -> None:
    # F5's controller defaults to the class name `nginx` too; the program keeps today's meaning of it.
    assert "nginx" in CONTROLLERS["f5-nginx"].class_names
    assert controller_for("nginx") is CONTROLLERS["ingress-nginx"]


@pytest.mark.parametrize("class_name", ["", "gce", "NGINX", "nginx-internal", "alb"])
def test_an_unknown_class_maps_to_none(class_name: str) -> None:
    assert controller_for(class_name) is None


def test_streaming_paths_are_the_ingress_paths() -> None:
    assert STREAMING_PATHS == ingress.STREAMING_PATHS
    assert Streaming(service="x").paths == ingress.STREAMING_PATHS


def test_controllers_are_frozen() -> None:
    with pytest.raises(AttributeError):
        CONTROLLERS["traefik"].key = "other"  # type: ignore[misc]
