"""What the API server (and the kubelet) check in a pod template that a JSON schema cannot: names that must be unique,
mounts that must name a volume, and the Secrets and ConfigMaps a pod reads.

    python -m tools.pod_rules DIR...    # every YAML file under DIR; exit 1 when a pod breaks a rule

A schema validates each field on its own; these rules relate fields to each other and to other objects. A pod
template that breaks one is valid to kubernetes-validate, and then:

- rejected by the API server (the whole object): two volumes, two containers (init and ephemeral ones included) or
  two ports of one container with one name, two mounts of one container at one path, a mount of a volume the pod
  does not have;
- accepted with a warning by the API server but refused by a server-side apply (which Pulumi's Kubernetes provider
  uses), whose list keys must be unique: two env vars of one container with one name, two ports of one container
  with one containerPort/protocol. A client-side apply keeps only the last env var;
- accepted, but its pods never start (the kubelet reports CreateContainerConfigError, or the volume never mounts):
  a Secret or ConfigMap that is not there, or a key it does not have, unless the reference is `optional: true`.

The messages follow the API server's (`<field path>: Duplicate value: "tmp"`), prefixed by the object and the
container. Secrets and ConfigMaps are matched by name only (a pod reads them from its own namespace).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tools import yamlio
from tools.restricted import pod_template

# Every namespace has this ConfigMap (the controller manager publishes it); projected service-account volumes read it.
CLUSTER_CONFIG_MAPS: dict[str, frozenset[str]] = {"kube-root-ca.crt": frozenset({"ca.crt"})}

# Known objects: name -> its keys (None when the keys are not known), or just the names.
Known = Mapping[str, Collection[str] | None] | Collection[str]
_Keys = dict[str, frozenset[str] | None]


def known(docs: Iterable[dict[str, Any]], kind: str) -> dict[str, frozenset[str]]:
    """Name -> keys of every `kind` (Secret or ConfigMap) among `docs` (data, stringData and binaryData alike)."""
    found: dict[str, frozenset[str]] = {}
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == kind and doc.get("apiVersion") == "v1":
            keys = {k for field in ("data", "stringData", "binaryData") for k in doc.get(field) or {}}
            found[doc["metadata"]["name"]] = frozenset(keys)
    return found


def problems(doc: dict[str, Any], secrets: Known | None = None, config_maps: Known | None = None) -> list[str]:
    """Every rule the pods of `doc` break; [] for a clean pod and for objects that run no pods.

    `secrets` / `config_maps`: the ones that will exist beside the pod, as names or as name -> keys (None: keys not
    known, only the name is checked). Left out (None), references of that kind are not checked at all.
    """
    template = pod_template(doc)
    if template is None:
        return []
    spec = template.get("spec") or {}
    prefix = _spec_path(doc.get("kind"))
    label = f"{doc.get('kind')} {(doc.get('metadata') or {}).get('name')}"
    check = _Check(label, _as_mapping(secrets), _as_mapping(config_maps))

    volumes = spec.get("volumes") or []
    names: set[str] = set()
    for i, volume in enumerate(volumes):
        name = volume.get("name")
        if name in names:
            check.found(f"volume {name}", f"{prefix}.volumes[{i}].name", f"Duplicate value: {_q(name)}")
        names.add(name)
        check.volume(f"volume {name}", f"{prefix}.volumes[{i}]", volume)
    # A StatefulSet's pods also get a volume per claim template, named after it.
    claims = {(c.get("metadata") or {}).get("name") for c in (doc.get("spec") or {}).get("volumeClaimTemplates") or []}
    mountable = names | claims

    containers: set[str] = set()
    for path, container in _containers(spec, prefix):
        name = container.get("name")
        where = f"container {name}"
        if name in containers:
            check.found(where, f"{path}.name", f"Duplicate value: {_q(name)}")
        containers.add(name)
        check.container(where, path, container, mountable)
    return check.problems


class _Check:
    def __init__(self, label: str, secrets: _Keys | None, config_maps: _Keys | None) -> None:
        self.label = label
        self.known = {"Secret": secrets, "ConfigMap": config_maps}
        self.problems: list[str] = []

    def found(self, where: str, path: str, message: str) -> None:
        self.problems.append(f"{self.label}, {where}: {path}: {message}")

    def container(self, where: str, path: str, container: dict[str, Any], volumes: set[str]) -> None:
        env: set[str] = set()
        for i, entry in enumerate(container.get("env") or []):
            name = entry.get("name")
            if name in env:
                self.found(
                    where,
                    f"{path}.env[{i}].name",
                    f"Duplicate value: {_q(name)} (hides the earlier definition; a server-side apply refuses it)",
                )
            env.add(name)
            source = entry.get("valueFrom") or {}
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                if field in source:
                    ref = source[field]
                    self.reference(where, f"{path}.env[{i}].valueFrom.{field}", kind, ref, keys=[ref.get("key")])
        for i, entry in enumerate(container.get("envFrom") or []):
            for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if field in entry:
                    self.reference(where, f"{path}.envFrom[{i}].{field}", kind, entry[field], keys=[])

        port_names: set[str] = set()
        port_keys: set[str] = set()
        for i, port in enumerate(container.get("ports") or []):
            name = port.get("name")
            if name:
                if name in port_names:
                    self.found(where, f"{path}.ports[{i}].name", f"Duplicate value: {_q(name)}")
                port_names.add(name)
            key = f"{port.get('containerPort')}/{port.get('protocol') or 'TCP'}"
            if key in port_keys:
                self.found(
                    where,
                    f"{path}.ports[{i}]",
                    f"Duplicate value: {_q(key)} (containerPort/protocol; a server-side apply refuses it)",
                )
            port_keys.add(key)

        mount_paths: set[str] = set()
        for i, mount in enumerate(container.get("volumeMounts") or []):
            mount_path = mount.get("mountPath")
            if mount_path in mount_paths:
                self.found(
                    where, f"{path}.volumeMounts[{i}].mountPath", f"Invalid value: {_q(mount_path)}: must be unique"
                )
            mount_paths.add(mount_path)
            if mount.get("name") not in volumes:
                self.found(where, f"{path}.volumeMounts[{i}].name", f"Not found: {_q(mount.get('name'))}")

    def volume(self, where: str, path: str, volume: dict[str, Any]) -> None:
        if "secret" in volume:
            source = volume["secret"]
            self.reference(where, f"{path}.secret", "Secret", source, _item_keys(source), name_field="secretName")
        if "configMap" in volume:
            source = volume["configMap"]
            self.reference(where, f"{path}.configMap", "ConfigMap", source, _item_keys(source))
        for j, projection in enumerate((volume.get("projected") or {}).get("sources") or []):
            for field, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
                if field in projection:
                    source = projection[field]
                    self.reference(where, f"{path}.projected.sources[{j}].{field}", kind, source, _item_keys(source))

    def reference(
        self,
        where: str,
        path: str,
        kind: str,
        ref: dict[str, Any],
        keys: list[Any],
        name_field: str = "name",
    ) -> None:
        """A reference to a Secret or ConfigMap (and keys of it); fine when optional, whether it exists or not."""
        known = self.known[kind]
        if known is None or ref.get("optional") is True:
            return
        name = ref.get(name_field)
        if name not in known:
            self.found(where, f"{path}.{name_field}", f"{kind} {_q(name)} not found (the pod would never start)")
            return
        have = known[name]
        if have is None:
            return
        for key in keys:
            if key not in have:
                self.found(where, f"{path}", f"{kind} {_q(name)} has no key {_q(key)} (the pod would never start)")


def _item_keys(source: dict[str, Any]) -> list[Any]:
    return [item.get("key") for item in source.get("items") or []]


def _as_mapping(value: Known | None) -> _Keys | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {name: None if keys is None else frozenset(keys) for name, keys in value.items()}
    if isinstance(value, str):
        raise TypeError("known objects: a collection of names or a mapping of names to keys, not one string")
    return dict.fromkeys(value)


def _spec_path(kind: str | None) -> str:
    """Where a kind keeps its pod's spec, as the API server's field paths spell it."""
    if kind == "Pod":
        return "spec"
    if kind == "CronJob":
        return "spec.jobTemplate.spec.template.spec"
    return "spec.template.spec"


def _containers(spec: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(spec.get(field) or []):
            yield f"{prefix}.{field}[{i}]", container


def _q(value: Any) -> str:
    """A value quoted as the API server quotes it (Go's %q)."""
    return json.dumps(value)


def main(argv: list[str] | None = None) -> int:
    directories = [Path(a) for a in (argv if argv is not None else sys.argv[1:])]
    if not directories:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    documents = [
        (path, doc)
        for path in sorted(p for d in directories for p in d.rglob("*.y*ml"))
        for doc in yamlio.load_all(path.read_text())
        if isinstance(doc, dict)
    ]
    docs = [doc for _, doc in documents]
    # The Secrets and ConfigMaps among the files are the ones that will exist (plus what every namespace has).
    secrets, config_maps = known(docs, "Secret"), CLUSTER_CONFIG_MAPS | known(docs, "ConfigMap")
    pods = failed = 0
    for path, doc in documents:
        if pod_template(doc) is None:
            continue
        pods += 1
        found = problems(doc, secrets, config_maps)
        failed += bool(found)
        for problem in found:
            print(f"{path}: {problem}")
    print(f"{pods} pod templates checked, {failed} break a rule")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
