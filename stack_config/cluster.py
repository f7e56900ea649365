"""Reading the objects a stack would create from the cluster, before anything is registered.

The program reads with the Kubernetes provider's own connection settings (`kubernetes:kubeconfig`, path or contents,
and `kubernetes:context`; else `KUBECONFIG` or `~/.kube/config`; else the pod's service account), so it sees the
cluster `pulumi up` changes. Reads are GETs by name, a few at a time; a kind the cluster does not serve (the
prometheus-operator's, before its CRDs are installed) reads as absent.

Tests and the review tools answer these reads themselves (`answering_reads`): no cluster is needed to run the program
through the recording engine.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from components.inventory import HELM_RELEASE, KINDS, ObjectRef
from components.ownership import OWNER_ANNOTATION

READ_TIMEOUT_SECONDS = 10
PARALLEL_READS = 8


@dataclass(frozen=True)
class LiveObject:
    """An object the cluster has, as far as ownership goes."""

    ref: ObjectRef
    owner: str | None
    """Its `rocketchat.chat/owned-by` annotation: the stack that made it (None: no stack of this program)."""
    uid: str = ""
    made_by: str | None = None
    """Who else says it is theirs: Helm (`meta.helm.sh/release-name`, or a release record), for the message."""


class ClusterUnreadable(Exception):
    """The cluster could not be reached or read (no kubeconfig, no network, no rights)."""


Reader = Callable[[list[ObjectRef]], dict[ObjectRef, LiveObject]]
"""Given the objects to look for, the ones the cluster has."""

_answer: contextvars.ContextVar[Reader | None] = contextvars.ContextVar("cluster_reader", default=None)


@contextlib.contextmanager
def answering_reads(reader: Reader) -> Iterator[None]:
    """Within this block the program's cluster reads are answered by `reader` (the recording engine's world)."""
    token = _answer.set(reader)
    try:
        yield
    finally:
        _answer.reset(token)


def read_live(refs: Iterable[ObjectRef], provider_config: Mapping[str, Any]) -> dict[ObjectRef, LiveObject]:
    """Those of `refs` that exist in the cluster."""
    wanted = list(refs)
    reader = _answer.get() or KubernetesReader(provider_config)
    return reader(wanted)


class KubernetesReader:
    """Reads through the Kubernetes API with the provider's connection settings."""

    def __init__(self, provider_config: Mapping[str, Any]) -> None:
        self.provider_config = provider_config

    def __call__(self, refs: list[ObjectRef]) -> dict[ObjectRef, LiveObject]:
        api = ApiReader(connection(self.provider_config))
        with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
            found = list(pool.map(api.read, refs))
        return {obj.ref: obj for obj in found if obj is not None}


def connection(provider_config: Mapping[str, Any]) -> Any:
    """The client configuration (server, credentials, CA) of the cluster the Kubernetes provider would talk to."""
    from kubernetes import client, config  # imported here: only a run against a real cluster needs it

    context = provider_config.get("context") or None
    given = provider_config.get("kubeconfig")
    configuration = client.Configuration()
    try:
        if given:
            path = Path(os.path.expanduser(str(given)))
            if "\n" not in str(given) and path.is_file():
                config.load_kube_config(str(path), context=context, client_configuration=configuration)
            else:
                import yaml

                config.load_kube_config_from_dict(
                    yaml.safe_load(str(given)), context=context, client_configuration=configuration
                )
            return configuration
        default = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        if any(Path(p).is_file() for p in default.split(os.pathsep) if p):
            config.load_kube_config(context=context, client_configuration=configuration)
        else:
            config.load_incluster_config(client_configuration=configuration)
        return configuration
    except Exception as error:  # the client raises ConfigException, IO and YAML errors alike
        raise ClusterUnreadable(f"no usable kubeconfig ({error})") from error


class ApiReader:
    """GETs against the API server with a client configuration's server, credentials and CA (plain urllib3: the
    generated client's calling conventions change between its releases; its configuration loading does not)."""

    def __init__(self, configuration: Any) -> None:
        import urllib3

        self.host = configuration.host.rstrip("/")
        self.configuration = configuration
        tls: dict[str, Any] = {}
        if configuration.verify_ssl:
            tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": configuration.ssl_ca_cert}
            if getattr(configuration, "tls_server_name", None):
                tls["server_hostname"] = configuration.tls_server_name
        else:
            tls = {"cert_reqs": "CERT_NONE"}
        if configuration.cert_file:
            tls |= {"cert_file": configuration.cert_file, "key_file": configuration.key_file}
        self.pool = urllib3.PoolManager(maxsize=PARALLEL_READS, **tls)

    def get(self, path: str) -> tuple[int, Any]:
        import urllib3

        headers = {"Accept": "application/json"}
        # The client's own view of its credentials (a bearer token from a file, an exec plugin or OIDC, refreshed
        # as it expires), whatever name its release files them under.
        for setting in self.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        try:
            response = self.pool.request(
                "GET", self.host + path, headers=headers, timeout=READ_TIMEOUT_SECONDS, retries=False
            )
        except urllib3.exceptions.HTTPError as error:
            raise ClusterUnreadable(f"{self.host}: {error}") from error
        body = json.loads(response.data or b"null") if response.status == 200 else None
        return response.status, body

    def read(self, ref: ObjectRef) -> LiveObject | None:
        if ref.kind == HELM_RELEASE:
            selector = quote(f"owner=helm,name={ref.name}")
            path = f"/api/v1/namespaces/{ref.namespace}/secrets?labelSelector={selector}&limit=1"
        else:
            path = KINDS[ref.kind].path(ref.namespace, ref.name)
        status, body = self.get(path)
        if status == 404:  # no such object, namespace or kind
            return None
        if status != 200:
            raise ClusterUnreadable(f"reading {ref}: HTTP {status}")
        if ref.kind == HELM_RELEASE:
            return LiveObject(ref, owner=None, made_by=f"Helm release {ref.name}") if body.get("items") else None
        return live_object(ref, body)


def live_object(ref: ObjectRef, body: Mapping[str, Any]) -> LiveObject:
    """What ownership needs of an object as the API server returns it."""
    metadata = body.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    release = annotations.get("meta.helm.sh/release-name")
    return LiveObject(
        ref,
        owner=annotations.get(OWNER_ANNOTATION),
        uid=metadata.get("uid", ""),
        made_by=f"Helm release {release}" if release else None,
    )
