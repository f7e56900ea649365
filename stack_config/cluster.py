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
        client = api_client(self.provider_config)
        try:
            with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
                found = list(pool.map(lambda ref: _read(client, ref), refs))
        finally:
            client.close()
        return {obj.ref: obj for obj in found if obj is not None}


def api_client(provider_config: Mapping[str, Any]) -> Any:
    """A client of the cluster the Kubernetes provider would talk to."""
    from kubernetes import client, config  # imported here: only a run against a real cluster needs it

    context = provider_config.get("context") or None
    given = provider_config.get("kubeconfig")
    try:
        if given:
            path = Path(os.path.expanduser(str(given)))
            if "\n" not in str(given) and path.is_file():
                return config.new_client_from_config(config_file=str(path), context=context)
            import yaml

            return config.new_client_from_config_dict(yaml.safe_load(str(given)), context=context)
        default = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        if any(Path(p).is_file() for p in default.split(os.pathsep) if p):
            return config.new_client_from_config(context=context)
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    except Exception as error:  # the client raises ConfigException, IO and YAML errors alike
        raise ClusterUnreadable(f"no usable kubeconfig ({error})") from error


def _read(client: Any, ref: ObjectRef) -> LiveObject | None:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    kind = KINDS[ref.kind]
    if ref.kind == HELM_RELEASE:
        selector = quote(f"owner=helm,name={ref.name}")
        path = f"/api/v1/namespaces/{ref.namespace}/secrets?labelSelector={selector}&limit=1"
    else:
        path = kind.path(ref.namespace, ref.name)
    try:
        body = client.call_api(
            path,
            "GET",
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
            _request_timeout=READ_TIMEOUT_SECONDS,
        )
    except ApiException as error:
        if error.status == 404:  # no such object, namespace or kind
            return None
        raise ClusterUnreadable(f"reading {ref}: HTTP {error.status} {error.reason}") from error
    except (HTTPError, OSError) as error:
        raise ClusterUnreadable(f"reading {ref}: {error}") from error
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
