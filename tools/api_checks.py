"""The API server's rules (stack_config/api_rules.py) applied to manifests: the objects a program really registers.

    python -m tools.api_checks DIR...    # every YAML file under DIR (e.g. `tools.manifests --out`); exit 1 on a problem

The program applies the same rules, before it registers anything, to what its args determine (stack_config/objects.py);
this is the check of that check, on the recorded objects (and on the chart's rendered ones where the chart is at hand):
an object that fails here was accepted by the program and would be refused at `pulumi up`. kubernetes-validate checks
the schemas beside it (types, field names); these are the rules it cannot express.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stack_config import api_rules
from tools import yamlio
from tools.restricted import pod_template

INT64_FIELDS = frozenset({"tolerationSeconds", "activeDeadlineSeconds", "terminationGracePeriodSeconds"})
"""Integer fields the API stores as int64; every other number here is an int32."""
MEMORY_LIKE = ("memory", "ephemeral-storage", "storage")


def object_problems(doc: Mapping[str, Any], partial: bool = False) -> list[str]:
    """Every rule `doc` breaks, each as `<Kind>/<name>: <field>: <what is wrong>`; [] for a valid object. A
    `partial` doc (a server-side apply patch of a few fields) is held to the rules of the fields it has only."""
    kind = str(doc.get("kind"))
    metadata = doc.get("metadata") or {}
    name = str(metadata.get("name", ""))
    found: list[tuple[str, str]] = []
    if (why := api_rules.object_name(kind, name)) is not None:
        found.append(("metadata.name", f"{name!r} {why}"))
    if metadata.get("namespace") is not None and (why := api_rules.dns_label(metadata["namespace"])) is not None:
        found.append(("metadata.namespace", f"{metadata['namespace']!r} {why}"))
    found += _meta_problems("metadata", metadata)
    found += _number_problems(doc, "")
    spec = doc.get("spec") or {}
    if kind in ("Secret", "ConfigMap"):
        data = {**(doc.get("data") or {}), **(doc.get("stringData") or {})}
        if (why := api_rules.secret_size({k: str(v) for k, v in data.items()})) is not None:
            found.append(("data", why))
    for path, labels in _selectors(spec):
        found += _label_problems(path, labels)
    template = pod_template(dict(doc))
    if template is not None:
        found += _meta_problems("spec.template.metadata", template.get("metadata") or {})
        found += _pod_problems("spec.template.spec", template.get("spec") or {}, partial)
    # A claim's storage (a StatefulSet's claim templates, a claim of its own).
    templates = enumerate(spec.get("volumeClaimTemplates") or [])
    claims = [(f"spec.volumeClaimTemplates[{i}].spec", template.get("spec") or {}) for i, template in templates]
    if kind == "PersistentVolumeClaim":
        claims.append(("spec", spec))
    for where, claim_spec in claims:
        requested = ((claim_spec.get("resources") or {}).get("requests") or {}).get("storage")
        if requested is not None and (why := api_rules.storage(str(requested))) is not None:
            found.append((f"{where}.resources.requests.storage", f"{requested!r} {why}"))
    if kind == "Ingress":
        backends = [("spec.defaultBackend", spec.get("defaultBackend"))]
        for i, rule in enumerate(spec.get("rules") or []):
            if rule.get("host") is not None and (why := api_rules.ingress_host(rule["host"])) is not None:
                found.append((f"spec.rules[{i}].host", f"{rule['host']!r} {why}"))
            paths = enumerate((rule.get("http") or {}).get("paths") or [])
            backends += [(f"spec.rules[{i}].http.paths[{j}].backend", path.get("backend")) for j, path in paths]
        for where, backend in backends:
            # ValidateIngressBackend: the Service a backend names is named as a Service must be.
            service = str(((backend or {}).get("service") or {}).get("name", ""))
            if service and (why := api_rules.dns_1035_label(service)) is not None:
                found.append((f"{where}.service.name", f"{service!r} {why}"))
        for i, tls in enumerate(spec.get("tls") or []):
            for j, host in enumerate(tls.get("hosts") or []):
                if (why := api_rules.dns_subdomain(host)) is not None:
                    found.append((f"spec.tls[{i}].hosts[{j}]", f"{host!r} {why}"))
    if kind == "HTTPRoute":
        for i, host in enumerate(spec.get("hostnames") or []):
            if (why := api_rules.ingress_host(host)) is not None:
                found.append((f"spec.hostnames[{i}]", f"{host!r} {why}"))
        refs = [
            # The CRD's defaults: group gateway.networking.k8s.io, kind Gateway.
            (
                r.get("group", "gateway.networking.k8s.io"),
                r.get("kind", "Gateway"),
                r.get("name", ""),
                r.get("namespace"),
                r.get("sectionName"),
            )
            for r in spec.get("parentRefs") or []
        ]
        found += [(f"spec.parentRefs[{i}]", why) for i, why in api_rules.parent_refs(refs)]
    return [f"{kind}/{name}: {path}: {why}" for path, why in found]


def _meta_problems(path: str, metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = _label_problems(f"{path}.labels", metadata.get("labels") or {})
    annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
    for key in annotations:
        if (why := api_rules.annotation_key(key)) is not None:
            found.append((f"{path}.annotations", f"{key!r} {why}"))
    if (why := api_rules.annotations_size(annotations)) is not None:
        found.append((f"{path}.annotations", why))
    return found


def _label_problems(path: str, labels: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    for key, value in labels.items():
        if (why := api_rules.qualified_name(str(key))) is not None:
            found.append((path, f"{key!r} {why}"))
        if (why := api_rules.label_value(str(value))) is not None:
            found.append((f"{path}.{key}", f"{value!r} {why}"))
    return found


def _selectors(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The label selectors of a workload, budget, policy or Service (their keys and values are labels)."""
    selector = spec.get("selector")
    if isinstance(selector, dict):
        yield (
            ("spec.selector.matchLabels", selector.get("matchLabels") or {})
            if "matchLabels" in selector
            else (
                "spec.selector",
                selector,
            )
        )
    pod_selector = spec.get("podSelector")
    if isinstance(pod_selector, dict):
        yield "spec.podSelector.matchLabels", pod_selector.get("matchLabels") or {}


def _pod_problems(path: str, spec: Mapping[str, Any], partial: bool = False) -> list[tuple[str, str]]:
    found = _label_problems(f"{path}.nodeSelector", spec.get("nodeSelector") or {})
    for i, given in enumerate(spec.get("tolerations") or []):
        for field, why in api_rules.toleration(
            given.get("key"),
            given.get("operator"),
            given.get("value"),
            given.get("effect"),
            given.get("tolerationSeconds"),
        ):
            found.append((f"{path}.tolerations[{i}].{field}", why))
    for field in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(field) or []):
            where = f"{path}.{field}[{i}]"
            image = str(container.get("image", ""))
            if not image and not partial:  # validateContainers: a pod template's container names its image
                found.append((f"{where}.image", "is required"))
            if image != image.strip():
                found.append((f"{where}.image", f"{image!r} has blanks around it"))
            tag = image.rpartition("/")[2].partition("@")[0].partition(":")[2]
            if tag and (why := api_rules.image_tag(tag)) is not None:
                found.append((f"{where}.image", f"{tag!r} {why}"))
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            for resource, request in requests.items():
                if resource in limits:
                    why = api_rules.request_within_limit(resource, str(request), str(limits[resource]))
                    if why is not None:
                        found.append((f"{where}.resources.requests.{resource}", why))
            for amounts, which in ((requests, "requests"), (limits, "limits")):
                for resource, amount in amounts.items():
                    if resource in MEMORY_LIKE and (why := api_rules.whole_bytes(str(amount))) is not None:
                        found.append((f"{where}.resources.{which}.{resource}", f"{amount!r} {why}"))
    return found


def _number_problems(value: Any, path: str) -> list[tuple[str, str]]:
    """Numbers beyond an int32 (or, for the int64 fields, beyond what a double carries exactly)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _number_problems(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _number_problems(v, f"{path}[{i}]")]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    field = path.rsplit(".", 1)[-1]
    limit = api_rules.MAX_EXACT_INTEGER if field in INT64_FIELDS else api_rules.MAX_INT32
    if abs(value) > limit:
        return [(path, f"{value} is beyond the field's range ({limit})")]
    return []


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    problems = []
    for path in paths:
        for file in sorted(path.rglob("*.yaml")) if path.is_dir() else [path]:
            for doc in yamlio.load_all(file.read_text()):
                if isinstance(doc, dict) and "kind" in doc:
                    problems += [f"{file}: {p}" for p in object_problems(doc)]
    print("\n".join(problems) or "no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
