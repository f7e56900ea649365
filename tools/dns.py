"""DNS automation from the stack outputs: an external-dns DNSEndpoint and/or an RFC 1035 zone-file fragment.

    pulumi stack output --json --stack prod > outputs.json
    python -m tools.dns --outputs outputs.json --format dnsendpoint|zone|both [--out DIR]
                        [--name NAME] [--namespace NS] [--zone ORIGIN]

Reads the outputs contract (`host`, `namespace`, `dnsRecords` [{name, type, value, ttl}], ...) and writes
`dnsendpoint.yaml` (apiVersion externaldns.k8s.io/v1alpha1, for external-dns's CRD source) and `records.zone`
(absolute names with a trailing dot, TTL, class IN, type, value; CNAME targets fully qualified) into DIR, or one of
them to standard output. Every record is checked first; when the Ingress has no load-balancer address yet
(`dnsRecords` empty) it stops with an error rather than write an empty record set.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import yamlio

API_VERSION = "externaldns.k8s.io/v1alpha1"
RECORD_TYPES = ("A", "AAAA", "CNAME")
MAX_TTL = 2**31 - 1  # RFC 2181 section 8
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class DnsError(Exception):
    """The outputs cannot be turned into records; the message says why and what to do."""


@dataclass(frozen=True)
class Record:
    name: str
    """Without the trailing dot, lower case."""
    type: str
    value: str
    """An address for A/AAAA (canonical text), a host name without the trailing dot for CNAME."""
    ttl: int


def _hostname(text: Any, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise DnsError(f"{what} must be a DNS name, got {json.dumps(text)}")
    name = text.strip().rstrip(".").lower()
    if len(name) > 253 or "." not in name or not all(_LABEL.match(label) for label in name.split(".")):
        raise DnsError(f"{what} {text!r} is not a fully qualified DNS name such as chat.example.com")
    return name


def _record(raw: Any, index: int) -> Record:
    where = f"dnsRecords[{index}]"
    if not isinstance(raw, Mapping):
        raise DnsError(f"{where} must be an object with name, type, value and ttl, got {json.dumps(raw)}")
    missing = [key for key in ("name", "type", "value", "ttl") if key not in raw]
    if missing:
        raise DnsError(f"{where} lacks {', '.join(missing)}")
    name = _hostname(raw["name"], f"{where}.name")
    record_type = raw["type"]
    if record_type not in RECORD_TYPES:
        raise DnsError(f"{where}.type must be one of {', '.join(RECORD_TYPES)}, got {json.dumps(record_type)}")
    ttl = raw["ttl"]
    if isinstance(ttl, float) and ttl.is_integer():
        ttl = int(ttl)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= MAX_TTL:
        raise DnsError(f"{where}.ttl must be a whole number of seconds from 1 to {MAX_TTL}, got {json.dumps(ttl)}")
    value = raw["value"]
    if record_type == "CNAME":
        value = _hostname(value, f"{where}.value")
        if value == name:
            raise DnsError(f"{where}: a CNAME cannot point at its own name {name}")
    else:
        version = 4 if record_type == "A" else 6
        try:
            address = ipaddress.ip_address(value)
        except (TypeError, ValueError) as error:
            raise DnsError(f"{where}.value {json.dumps(value)} is not an IPv{version} address") from error
        if address.version != version:
            raise DnsError(
                f"{where}.value {value} is an IPv{address.version} address; {record_type} needs IPv{version}"
            )
        value = address.compressed
    return Record(name, record_type, value, ttl)


def records_from_outputs(outputs: Any) -> list[Record]:
    """Validated records of a `pulumi stack output --json` document; raises DnsError saying what is wrong."""
    if not isinstance(outputs, Mapping):
        raise DnsError("the outputs must be the JSON object `pulumi stack output --json` prints")
    for key in ("host", "namespace", "dnsRecords"):
        if key not in outputs:
            raise DnsError(f"the outputs have no {key!r}: is this `pulumi stack output --json` of a Rocket.Chat stack?")
    host = _hostname(outputs["host"], "host")
    raw_records = outputs["dnsRecords"]
    if raw_records == "[secret]":
        raise DnsError("dnsRecords is shown as [secret]: it should never be one; check the program's outputs")
    if not isinstance(raw_records, list):
        raise DnsError(f"dnsRecords must be a list, got {json.dumps(raw_records)}")
    if not raw_records:
        if outputs.get("servedBy") == "gateway":
            raise DnsError(
                f"no DNS records for {host}: the Gateway has no address yet (gatewayAddress is "
                f"{json.dumps(outputs.get('gatewayAddress'))}). Wait until its controller publishes one, run "
                "`pulumi refresh`, and export the outputs again"
            )
        address = outputs.get("ingressAddress")
        raise DnsError(
            f"no DNS records for {host}: the Ingress has no load-balancer address yet (ingressAddress is "
            f"{json.dumps(address)}). Wait until the ingress controller publishes one, run `pulumi refresh`, "
            "and export the outputs again"
        )
    records = [_record(raw, i) for i, raw in enumerate(raw_records)]
    for record in records:
        others = [r for r in records if r.name == record.name and r is not record]
        if record.type == "CNAME" and others:
            raise DnsError(f"{record.name} has a CNAME and other records: a CNAME must be the only record of its name")
    if not any(r.name == host for r in records):
        raise DnsError(f"no record is for the stack's host {host}: records are for {sorted({r.name for r in records})}")
    return records


def check_zone(records: list[Record], zone: str) -> None:
    """Every name lies in `zone`, and no CNAME sits at its apex (the apex holds SOA and NS)."""
    origin = zone.strip().rstrip(".").lower()
    if not origin or not all(_LABEL.match(label) for label in origin.split(".")):
        raise DnsError(f"--zone {zone!r} is not a DNS zone name such as example.com")
    for record in records:
        if record.name != origin and not record.name.endswith("." + origin):
            raise DnsError(f"{record.name} is not in the zone {origin}")
        if record.type == "CNAME" and record.name == origin:
            raise DnsError(
                f"{record.name} is the apex of zone {origin}, which cannot hold a CNAME; "
                "use an A/AAAA address or your provider's ALIAS record"
            )


def _endpoint_name(host: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", host.lower()).strip("-")
    return name[:63].rstrip("-")


def dns_endpoint(
    records: list[Record], *, name: str, namespace: str, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The external-dns DNSEndpoint: one endpoint per (name, type), its targets in order of the outputs."""
    if not _K8S_NAME.match(name) or len(name) > 63:
        raise DnsError(f"{name!r} is not a valid object name (lowercase letters, digits and '-')")
    endpoints: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        endpoint = endpoints.setdefault(
            (record.name, record.type),
            {"dnsName": record.name, "recordType": record.type, "targets": [], "recordTTL": record.ttl},
        )
        if record.value not in endpoint["targets"]:
            endpoint["targets"].append(record.value)
        endpoint["recordTTL"] = min(endpoint["recordTTL"], record.ttl)
    return {
        "apiVersion": API_VERSION,
        "kind": "DNSEndpoint",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels or {"app.kubernetes.io/part-of": "rocketchat", "app.kubernetes.io/component": "dns"}),
        },
        "spec": {"endpoints": list(endpoints.values())},
    }


def zone_fragment(records: list[Record], *, comment: str | None = None) -> str:
    """RFC 1035 master-file lines: `<absolute name>. <ttl> IN <type> <value>` with fully qualified CNAME targets."""
    lines = [f"; {comment}"] if comment else []
    width = max(len(r.name) + 1 for r in records)
    # All records of one name and type form one RRset, which has one TTL (RFC 2181 5.2): the lowest asked for.
    ttls: dict[tuple[str, str], int] = {}
    for record in records:
        ttls[(record.name, record.type)] = min(record.ttl, ttls.get((record.name, record.type), record.ttl))
    for record in records:
        value = f"{record.value}." if record.type == "CNAME" else record.value
        ttl = ttls[(record.name, record.type)]
        lines.append(f"{record.name + '.':<{width}} {ttl:>6} IN {record.type:<5} {value}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.dns", description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", type=Path, required=True, help="`pulumi stack output --json` saved to a file")
    parser.add_argument("--format", choices=("dnsendpoint", "zone", "both"), default="both")
    parser.add_argument("--out", type=Path, help="directory for dnsendpoint.yaml and records.zone (else stdout)")
    parser.add_argument("--name", help="DNSEndpoint name (default: derived from the host)")
    parser.add_argument("--namespace", help="DNSEndpoint namespace (default: the stack's namespace output)")
    parser.add_argument("--zone", help="check that every record lies in this zone and no CNAME is at its apex")
    args = parser.parse_args(argv)
    try:
        try:
            outputs = json.loads(args.outputs.read_text())
        except OSError as error:
            raise DnsError(f"cannot read {args.outputs}: {error.strerror}") from error
        except ValueError as error:
            raise DnsError(f"{args.outputs} is not JSON ({error}); save `pulumi stack output --json` in it") from error
        records = records_from_outputs(outputs)
        if args.zone:
            check_zone(records, args.zone)
        host = _hostname(outputs["host"], "host")
        namespace = args.namespace or outputs["namespace"]
        if not isinstance(namespace, str) or not _K8S_NAME.match(namespace):
            raise DnsError(f"namespace {json.dumps(namespace)} is not a Kubernetes namespace name")
        documents: dict[str, str] = {}
        if args.format in ("dnsendpoint", "both"):
            endpoint = dns_endpoint(records, name=args.name or _endpoint_name(host), namespace=namespace)
            documents["dnsendpoint.yaml"] = yamlio.dump(endpoint, sort_keys=False)
        if args.format in ("zone", "both"):
            comment = f"{host}: from the Rocket.Chat stack outputs (python -m tools.dns)"
            documents["records.zone"] = zone_fragment(records, comment=comment)
        if args.out is None:
            if len(documents) > 1:
                raise DnsError("--format both needs --out DIR (two files); or pick one format for standard output")
            sys.stdout.write(next(iter(documents.values())))
            return 0
        args.out.mkdir(parents=True, exist_ok=True)
        for file_name, text in documents.items():
            (args.out / file_name).write_text(text)
            print(f"wrote {args.out / file_name}", file=sys.stderr)
        return 0
    except DnsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
