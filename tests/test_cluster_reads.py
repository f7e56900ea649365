"""The ownership check's reads of a real HTTP API: a small server on 127.0.0.1 answers as the API server would, and
the program reaches it through a kubeconfig given as `kubernetes:kubeconfig`, as a stack sets it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from components.inventory import HELM_RELEASE, ObjectRef
from stack_config.cluster import ClusterUnreadable, KubernetesReader

TOKEN = "e2e-only-token"
OBJECTS: dict[str, dict[str, Any]] = {
    "/api/v1/namespaces/rc-shared": {
        "metadata": {"name": "rc-shared", "uid": "u1", "annotations": {"rocketchat.chat/owned-by": "o/p/a"}}
    },
    "/apis/apps/v1/namespaces/rc-shared/statefulsets/rocketchat-nats": {
        "metadata": {"name": "rocketchat-nats", "uid": "u2", "annotations": {"meta.helm.sh/release-name": "x"}}
    },
    "/api/v1/namespaces/rc-shared/secrets?labelSelector=owner%3Dhelm%2Cname%3Drocketchat&limit=1": {
        "items": [{"metadata": {"name": "sh.helm.release.v1.rocketchat.v1"}}]
    },
    "/api/v1/namespaces/rc-shared/secrets?labelSelector=owner%3Dhelm%2Cname%3Dother&limit=1": {"items": []},
}


class FakeApiServer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        if self.path.startswith("/apis/monitoring.coreos.com/v1/namespaces/forbidden/"):
            self.send_response(403)
            self.end_headers()
            return
        body = OBJECTS.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {"kind": "Status", "code": 404}).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def kubeconfig() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "me", "user": {"token": TOKEN}}],
        "contexts": [{"name": "here", "context": {"cluster": "local", "user": "me"}}],
        "current-context": "here",
    }
    yield yaml.safe_dump(config)
    server.shutdown()
    thread.join(timeout=5)


def test_objects_are_read_by_name_with_their_owner(kubeconfig: str) -> None:
    refs = [
        ObjectRef("Namespace", None, "rc-shared"),
        ObjectRef("StatefulSet", "rc-shared", "rocketchat-nats"),
        ObjectRef("Secret", "rc-shared", "absent"),
        ObjectRef(HELM_RELEASE, "rc-shared", "rocketchat"),
        ObjectRef(HELM_RELEASE, "rc-shared", "other"),
        ObjectRef("PodMonitor", "rc-shared", "rocketchat"),  # a kind the server does not serve: 404
    ]
    found = KubernetesReader({"kubeconfig": kubeconfig})(refs)
    assert set(found) == {refs[0], refs[1], refs[3]}
    assert found[refs[0]].owner == "o/p/a" and found[refs[0]].uid == "u1"
    assert found[refs[1]].owner is None and found[refs[1]].made_by == "Helm release x"
    assert found[refs[3]].made_by == "Helm release rocketchat"


def test_a_read_the_server_refuses_is_not_taken_as_absent(kubeconfig: str) -> None:
    with pytest.raises(ClusterUnreadable, match="HTTP 403"):
        KubernetesReader({"kubeconfig": kubeconfig})([ObjectRef("PodMonitor", "forbidden", "x")])


def test_no_cluster_to_reach_is_unreadable(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterUnreadable, match="no usable kubeconfig"):
        KubernetesReader({})([ObjectRef("Namespace", None, "x")])
