"""The Kubernetes API server's rules for the objects this program builds, as small pure functions over plain values.

A JSON schema (kubernetes-validate) checks types and field names; these are the rules it cannot express: the grammar
and length of names, label keys and values and annotation keys; the total size of annotations and Secrets; int32
counts; requests against limits; tolerations; Ingress hosts. Each function says what is wrong in words, with an
example of what is allowed, or returns None (or []) when the value passes. The API server's own rule is cited beside
each, by package and function (Kubernetes 1.33):

- `k8s.io/apimachinery/pkg/util/validation` (`validation.go`): IsDNS1123Label, IsDNS1123Subdomain, IsDNS1035Label,
  IsQualifiedName, IsValidLabelValue;
- `k8s.io/apimachinery/pkg/api/validation` (`objectmeta.go`): ValidateAnnotations, ValidateAnnotationsSize,
  NameIsDNSLabel, NameIsDNSSubdomain, NameIsDNS1035Label;
- `k8s.io/kubernetes/pkg/apis/core/validation` (`validation.go`): ValidateTolerations, ValidateResourceRequirements,
  ValidatePersistentVolumeClaimSpec, ValidateSecret, ValidateIngressRule (in `networking/validation`), ValidatePodSpec
  (nodeSelector), validateContainers (image);
- `k8s.io/kubernetes/pkg/apis/apps/validation`: ValidateStatefulSetName (a DNS label since 1.33);
- the Gateway API's HTTPRoute CRD (`sigs.k8s.io/gateway-api` v1.6.3): its CEL rules across `spec.parentRefs`.

The program applies them, before it registers anything, to what its args determine (stack_config/objects.py); the
tests apply the same functions to every object the program really registers (tools/api_checks.py).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from decimal import Decimal

from components.quantity import parse_quantity

MAX_INT32 = 2**31 - 1
"""Replica counts, autoscaler bounds and percentages are int32 fields: a larger number does not decode."""
MAX_EXACT_INTEGER = 2**53
"""Pulumi hands numbers to the provider as doubles (protobuf's `Struct`): a larger integer arrives changed, or not at
all (a Python int beyond a double's range cannot be serialised)."""
MAX_LABEL_LENGTH = 63
"""validation.LabelValueMaxLength, qualifiedNameMaxLength, DNS1123LabelMaxLength, DNS1035LabelMaxLength."""
MAX_SUBDOMAIN_LENGTH = 253
"""validation.DNS1123SubdomainMaxLength."""
MAX_ANNOTATIONS_BYTES = 256 * 1024
"""apimachinery/pkg/api/validation.TotalAnnotationSizeLimitB: the keys and values of one object's annotations."""
MAX_SECRET_BYTES = 1024 * 1024
"""core.MaxSecretSize: the keys and values of a Secret's (or a ConfigMap's) data together."""
MIN_BYTES = 2**20
"""The least memory or storage this program accepts, one mebibyte: a smaller amount is a unit left out (`512` is 512
bytes; `512Mi` was meant). The API server accepts it; no container or volume can work with it."""

# The grammars of validation.go, matched against the whole text (fullmatch: `$` would let a final newline through).
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
# The reference grammar of container images (github.com/distribution/reference, `tag`): kubelet refuses to pull an
# image whose tag breaks it (InvalidImageName), so the pods never start.
_IMAGE_TAG = re.compile(r"[\w][\w.-]{0,127}")

DNS_LABEL_WORDS = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
DNS_1035_WORDS = (
    "lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most 63"
)
SUBDOMAIN_WORDS = (
    "lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit, at "
    "most 253 characters"
)
LABEL_VALUE_WORDS = (
    "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (or empty), e.g. "
    "kube-prometheus"
)
QUALIFIED_NAME_WORDS = (
    "an optional DNS subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' or '.' starting and "
    "ending with a letter or digit, e.g. example.com/team or team"
)


def dns_label(value: str) -> str | None:
    """IsDNS1123Label: Namespace names (NameIsDNSLabel), StatefulSet names, Helm release names."""
    if len(value) > MAX_LABEL_LENGTH:
        return f"is not a DNS label: it has {len(value)} characters, at most {MAX_LABEL_LENGTH} are allowed"
    if not _LABEL.fullmatch(value):
        return f"is not a DNS label: {DNS_LABEL_WORDS}, e.g. rocketchat"
    return None


def dns_1035_label(value: str) -> str | None:
    """IsDNS1035Label: Service names (NameIsDNS1035Label) must also start with a letter."""
    if len(value) > MAX_LABEL_LENGTH:
        return f"is not a Service name: it has {len(value)} characters, at most {MAX_LABEL_LENGTH} are allowed"
    if not _DNS1035.fullmatch(value):
        return f"is not a Service name (a DNS-1035 label): {DNS_1035_WORDS}, e.g. rocketchat"
    return None


def dns_subdomain(value: str) -> str | None:
    """IsDNS1123Subdomain: the names of most objects (NameIsDNSSubdomain), class and Secret names, hosts."""
    if len(value) > MAX_SUBDOMAIN_LENGTH:
        return (
            f"is not a DNS subdomain name: it has {len(value)} characters, at most {MAX_SUBDOMAIN_LENGTH} are allowed"
        )
    if not value or not all(_LABEL.fullmatch(part) for part in value.split(".")):
        return f"is not a DNS subdomain name: {SUBDOMAIN_WORDS}, e.g. chat.example.com"
    return None


def qualified_name(value: str) -> str | None:
    """IsQualifiedName: label keys (ValidateLabelName), annotation keys, toleration keys."""
    prefix, slash, name = value.rpartition("/")
    if slash and (not prefix or "/" in prefix or dns_subdomain(prefix) is not None):
        return f"is not a Kubernetes label key: its prefix before '/' is not a DNS subdomain; {QUALIFIED_NAME_WORDS}"
    if not name or len(name) > MAX_LABEL_LENGTH or not _QUALIFIED_NAME.fullmatch(name):
        return f"is not a Kubernetes label key: {QUALIFIED_NAME_WORDS}"
    return None


def annotation_key(value: str) -> str | None:
    """ValidateAnnotations: a qualified name once lowercased (annotation keys may hold capitals)."""
    return qualified_name(value.lower())


def label_value(value: str) -> str | None:
    """IsValidLabelValue: label values, nodeSelector values, an `Equal` toleration's value."""
    if len(value) > MAX_LABEL_LENGTH:
        return (
            f"is not a Kubernetes label value: it has {len(value)} characters, at most {MAX_LABEL_LENGTH} are allowed"
        )
    if value and not _QUALIFIED_NAME.fullmatch(value):
        return f"is not a Kubernetes label value: {LABEL_VALUE_WORDS}"
    return None


def annotations_size(annotations: Mapping[str, str]) -> str | None:
    """ValidateAnnotationsSize: every key and value of one object's annotations together."""
    total = sum(len(key) + len(value) for key, value in annotations.items())
    if total > MAX_ANNOTATIONS_BYTES:
        return f"come to {total} bytes with the ones the stack sets; an object's annotations hold at most 256 KiB"
    return None


def secret_size(data: Mapping[str, str]) -> str | None:
    """ValidateSecret (and ValidateConfigMap): all keys and values of its data together."""
    total = sum(len(key) + len(value.encode()) for key, value in data.items())
    if total > MAX_SECRET_BYTES:
        return f"would hold {total} bytes; a Secret holds at most 1 MiB"
    return None


def int32(value: int) -> str | None:
    """Counts (replicas, autoscaler bounds, percentages) are int32 in every API."""
    if value > MAX_INT32:
        return f"is above {MAX_INT32}, the largest count Kubernetes stores (int32)"
    return None


def whole_bytes(quantity: str) -> str | None:
    """Memory and storage are counted in bytes: `100m` is a tenth of one (the API server rounds it up to a byte)."""
    amount = parse_quantity(quantity)
    if amount != amount.to_integral_value():
        return f"is {_plain(amount)} bytes, a fraction of a byte: write a whole amount such as 512Mi or 2Gi"
    if amount < MIN_BYTES:
        count = "one byte" if amount == 1 else f"{_plain(amount)} bytes"
        return f"is {count}, less than a mebibyte: a quantity without a unit counts bytes; write e.g. 512Mi or 8Gi"
    return None


def request_within_limit(resource: str, request: str, limit: str) -> str | None:
    """ValidateResourceRequirements: a container's request of a resource is at most its limit of it."""
    if parse_quantity(request) > parse_quantity(limit):
        return f"the {resource} request {request} is above the {resource} limit {limit}"
    return None


def image_tag(tag: str) -> str | None:
    """distribution/reference's tag grammar (kubelet); validateContainers refuses blanks around an image."""
    if not _IMAGE_TAG.fullmatch(tag):
        return (
            "cannot be an image tag: at most 128 letters, digits, '_', '.' and '-' (no '+' build metadata), "
            "e.g. 8.6.1 or 8.6.1-rc.1"
        )
    return None


def ingress_host(host: str) -> str | None:
    """ValidateIngressRule: a rule's host is a DNS subdomain and not an IP address."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return dns_subdomain(host)
    return "is an IP address; an Ingress host must be a DNS name, e.g. chat.example.com"


def storage(quantity: str) -> str | None:
    """ValidatePersistentVolumeClaimSpec: a claim's storage request is greater than zero (and here, whole bytes)."""
    if parse_quantity(quantity) <= 0:
        return "must be greater than zero, e.g. 8Gi"
    return whole_bytes(quantity)


def toleration(
    key: str | None, operator: str | None, value: str | None, effect: str | None, seconds: int | None
) -> list[tuple[str, str]]:
    """ValidateTolerations, field by field: (the field at fault, what is wrong)."""
    found: list[tuple[str, str]] = []
    if key:
        if (why := qualified_name(key)) is not None:
            found.append(("key", why))
    elif operator != "Exists":
        found.append(("operator", "must be Exists when key is empty (a toleration of every taint)"))
    if seconds is not None and effect != "NoExecute":
        found.append(("effect", "must be NoExecute when tolerationSeconds is set (only NoExecute evicts)"))
    if operator == "Exists" and value:
        found.append(("value", "must be empty when operator is Exists"))
    elif operator != "Exists" and value and (why := label_value(value)) is not None:
        found.append(("value", why))
    return found


ParentRef = tuple[str, str, str, str | None, str | None]
"""A route's reference to its parent: (group, kind, name, namespace, sectionName)."""

MIXED_SECTIONS = (
    "refers to the same Gateway as an earlier reference, one naming a sectionName and the other not: give one to "
    "every reference to that Gateway, or to none"
)


def parent_refs(refs: list[ParentRef]) -> list[tuple[int, str]]:
    """The Gateway API's rules across a route's parentRefs (the HTTPRoute CRD's x-kubernetes-validations on
    `spec.parentRefs`, v1.6.3): references to the same parent either all name a sectionName or none does, and no
    two name the same one. "The same parent" is the CRD's: the same group, kind and name, and both namespaces left
    out (or empty), or both given and equal. Returns (index, why) for each reference at fault."""

    def same_parent(a: ParentRef, b: ParentRef) -> bool:
        return a[:3] == b[:3] and ((not a[3] and not b[3]) or (bool(a[3]) and a[3] == b[3]))

    found = []
    for i, ref in enumerate(refs):
        earlier = [j for j in range(i) if same_parent(ref, refs[j])]  # each pair is reported once, on its second
        if any(bool(ref[4]) != bool(refs[j][4]) for j in earlier):
            found.append((i, MIXED_SECTIONS))
        elif (twin := next((j for j in earlier if (refs[j][4] or "") == (ref[4] or "")), None)) is not None:
            why = f"refers to the same Gateway and listener as parentRefs[{twin}]: give each its own sectionName"
            found.append((i, why))
    return found


NAME_RULES = {
    # The name function each kind's ValidateObjectMeta is given.
    "Namespace": dns_label,
    "StatefulSet": dns_label,
    "Service": dns_1035_label,
}
"""Kinds whose names follow a stricter rule than a DNS subdomain (NameIsDNSSubdomain, every other kind here)."""


def object_name(kind: str, name: str) -> str | None:
    return NAME_RULES.get(kind, dns_subdomain)(name)


def _plain(amount: Decimal) -> str:
    return format(amount.normalize(), "f")
