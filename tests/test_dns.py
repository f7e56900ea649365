"""tools.dns: real stack outputs (the recording engine, with an Ingress status) into a DNSEndpoint and a zone fragment.

The zone fragment is parsed back with dnspython, as a DNS server would read it; the DNSEndpoint is checked field by
field against the external-dns CRD (externaldns.k8s.io/v1alpha1).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
import yaml

from stack_config.schema import DnsConfig
from tools import dns as dns_tool
from tools.engine import reveal, run_program, stack_config

# The DNSEndpoint CRD's endpoint fields (external-dns, externaldns.k8s.io/v1alpha1): anything else is pruned or
# rejected by the API server, so a typo here would silently publish nothing.
ENDPOINT_FIELDS = {"dnsName", "targets", "recordType", "setIdentifier", "recordTTL", "labels", "providerSpecific"}
DNS_1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

CASES = {
    # name: (stack, overrides, load-balancer entry, expected record type, expected value in the zone)
    "ipv4": ("prod", {}, {"ip": "203.0.113.10"}, "A", "203.0.113.10"),
    "ipv6": ("prod", {}, {"ip": "2001:db8:0:0::10"}, "AAAA", "2001:db8::10"),
    "hostname": (
        "dev",
        {"rocketchat:dns": {"ttl": 120}},
        {"hostname": "a1b2.elb.eu-west-1.amazonaws.example"},
        "CNAME",
        "a1b2.elb.eu-west-1.amazonaws.example.",
    ),
}


def stack_outputs(tmp_path: Path, stack: str, overrides: dict[str, Any], entry: dict[str, str] | None) -> Path:
    """What `pulumi stack output --json` prints, from the real program and stack file."""
    status = {"loadBalancer": {"ingress": [entry]}} if entry else None
    recording = run_program(stack, overrides, ingress_status=status)
    path = tmp_path / f"{stack}-outputs.json"
    path.write_text(json.dumps(recording.outputs, indent=2))
    return path


def expected_ttl(stack: str, overrides: dict[str, Any]) -> int:
    """The TTL the stack file (or the override) asks for, else the settings' default."""
    config, _ = stack_config(stack, overrides)
    dns_config = json.loads(config.get("rocketchat:dns", "{}"))
    return dns_config.get("ttl", DnsConfig().ttl)


def check_endpoint(document: dict[str, Any]) -> None:
    assert document["apiVersion"] == "externaldns.k8s.io/v1alpha1"
    assert document["kind"] == "DNSEndpoint"
    assert set(document) == {"apiVersion", "kind", "metadata", "spec"}
    metadata = document["metadata"]
    assert DNS_1123_SUBDOMAIN.match(metadata["name"]) and len(metadata["name"]) <= 63
    assert DNS_1123_SUBDOMAIN.match(metadata["namespace"])
    assert set(document["spec"]) == {"endpoints"}
    for endpoint in document["spec"]["endpoints"]:
        assert set(endpoint) <= ENDPOINT_FIELDS, set(endpoint) - ENDPOINT_FIELDS
        assert isinstance(endpoint["dnsName"], str) and not endpoint["dnsName"].endswith(".")
        assert endpoint["recordType"] in ("A", "AAAA", "CNAME")
        assert endpoint["targets"] and all(isinstance(t, str) for t in endpoint["targets"])
        assert isinstance(endpoint["recordTTL"], int) and endpoint["recordTTL"] > 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_real_outputs_become_a_dnsendpoint_and_a_zone_a_server_can_load(tmp_path: Path, case: str) -> None:
    stack, overrides, entry, record_type, zone_value = CASES[case]
    outputs_file = stack_outputs(tmp_path, stack, overrides, entry)
    outputs = json.loads(outputs_file.read_text())
    host, ttl = outputs["host"], expected_ttl(stack, overrides)

    assert dns_tool.main(["--outputs", str(outputs_file), "--format", "both", "--out", str(tmp_path / "dns")]) == 0

    endpoint = yaml.safe_load((tmp_path / "dns" / "dnsendpoint.yaml").read_text())
    check_endpoint(endpoint)
    assert endpoint["metadata"]["namespace"] == outputs["namespace"]
    assert endpoint["spec"]["endpoints"] == [
        {"dnsName": host, "recordType": record_type, "targets": [zone_value.rstrip(".")], "recordTTL": ttl}
    ]

    text = (tmp_path / "dns" / "records.zone").read_text()
    origin = dns.name.from_text(host).parent()
    zone = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
    rdatasets = [(name, rdataset) for name, node in zone.nodes.items() for rdataset in node.rdatasets]
    assert len(rdatasets) == 1
    name, rdataset = rdatasets[0]
    assert name == dns.name.from_text(host)  # absolute: the origin was not needed to place it
    assert rdataset.rdclass == dns.rdataclass.IN
    assert rdataset.rdtype == dns.rdatatype.from_text(record_type)
    assert rdataset.ttl == ttl
    assert [r.to_text() for r in rdataset] == [zone_value]
    # Names are absolute (trailing dot), so the fragment means the same under whatever $ORIGIN includes it.
    records = [line.split() for line in text.splitlines() if line and not line.startswith(";")]
    assert records == [[f"{host}.", str(ttl), "IN", record_type, zone_value]]


def test_no_address_yet_fails_clearly_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs_file = stack_outputs(tmp_path, "dev", {}, None)
    assert json.loads(outputs_file.read_text())["dnsRecords"] == []

    assert dns_tool.main(["--outputs", str(outputs_file), "--out", str(tmp_path / "dns")]) == 1
    error = capsys.readouterr().err
    assert "no DNS records for chat.dev.example.com" in error
    assert "no load-balancer address yet" in error
    assert not (tmp_path / "dns").exists()


def test_a_gateway_without_an_address_is_named_as_the_one_to_wait_for() -> None:
    outputs = run_program("dev", {"rocketchat:gateway": {"parentRefs": [{"name": "public"}]}}).outputs
    with pytest.raises(dns_tool.DnsError, match=r"the Gateway has no address yet \(gatewayAddress is \"\"\)"):
        dns_tool.records_from_outputs(outputs)


def test_records_follow_the_gateway_once_it_has_an_address() -> None:
    gateway = {"addresses": [{"type": "Hostname", "value": "lb.example.net"}]}
    outputs = run_program(
        "dev", {"rocketchat:gateway": {"parentRefs": [{"name": "public"}]}}, gateway_status=gateway
    ).outputs
    (record,) = dns_tool.records_from_outputs(outputs)
    assert (record.name, record.type, record.value) == ("chat.dev.example.com", "CNAME", "lb.example.net")


def test_dnsendpoint_names_the_same_host_and_ttl_as_the_ingress_external_dns_annotations(tmp_path: Path) -> None:
    """Both DNS routes (Ingress annotations, or the DNSEndpoint) publish the same name with the same TTL."""
    prefix = "external-dns.kubernetes.io/"
    overrides = {"rocketchat:dns": {"externalDns": True, "ttl": 90, "annotationPrefix": prefix}}
    recording = run_program("dev", overrides, ingress_status={"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}})
    annotations = reveal(recording.of_type("Ingress")[0].inputs)["metadata"]["annotations"]
    records = dns_tool.records_from_outputs(recording.outputs)
    endpoint = dns_tool.dns_endpoint(records, name="rocketchat", namespace="rocketchat-dev")["spec"]["endpoints"][0]
    assert endpoint["dnsName"] == annotations[f"{prefix}hostname"]
    assert str(endpoint["recordTTL"]) == annotations[f"{prefix}ttl"]


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([], "must be the JSON object"),
        ({"host": "chat.example.com", "namespace": "rc"}, "no 'dnsRecords'"),
        ({"host": "chat.example.com", "namespace": "rc", "dnsRecords": "[secret]"}, "[secret]"),
        (
            {"host": "chat.example.com", "namespace": "rc", "dnsRecords": [{"name": "chat.example.com", "type": "A"}]},
            "lacks value, ttl",
        ),
        (
            {
                "host": "chat.example.com",
                "namespace": "rc",
                "dnsRecords": [{"name": "chat.example.com", "type": "A", "value": "lb.example.net", "ttl": 300}],
            },
            "is not an IPv4 address",
        ),
        (
            {
                "host": "chat.example.com",
                "namespace": "rc",
                "dnsRecords": [{"name": "chat.example.com", "type": "A", "value": "2001:db8::1", "ttl": 300}],
            },
            "is an IPv6 address; A needs IPv4",
        ),
        (
            {
                "host": "chat.example.com",
                "namespace": "rc",
                "dnsRecords": [{"name": "chat.example.com", "type": "MX", "value": "mx.example.com", "ttl": 300}],
            },
            "type must be one of A, AAAA, CNAME",
        ),
        (
            {
                "host": "chat.example.com",
                "namespace": "rc",
                "dnsRecords": [{"name": "chat.example.com", "type": "A", "value": "192.0.2.1", "ttl": 0}],
            },
            "ttl must be a whole number",
        ),
        (
            {
                "host": "chat.example.com",
                "namespace": "rc",
                "dnsRecords": [
                    {"name": "chat.example.com", "type": "CNAME", "value": "lb.example.net", "ttl": 300},
                    {"name": "chat.example.com", "type": "A", "value": "192.0.2.1", "ttl": 300},
                ],
            },
            "a CNAME must be the only record",
        ),
        (
            {
                "host": "chat.example.com",
                "namespace": "rc",
                "dnsRecords": [{"name": "other.example.com", "type": "A", "value": "192.0.2.1", "ttl": 300}],
            },
            "no record is for the stack's host",
        ),
    ],
)
def test_bad_outputs_are_refused_with_the_reason(outputs: Any, message: str) -> None:
    with pytest.raises(dns_tool.DnsError, match=re.escape(message)):
        dns_tool.records_from_outputs(outputs)


def test_zone_check_refuses_names_outside_it_and_a_cname_at_its_apex() -> None:
    cname = [dns_tool.Record("example.com", "CNAME", "lb.example.net", 300)]
    with pytest.raises(dns_tool.DnsError, match=re.escape("apex of zone example.com")):
        dns_tool.check_zone(cname, "example.com.")
    with pytest.raises(dns_tool.DnsError, match=re.escape("not in the zone example.org")):
        dns_tool.check_zone([dns_tool.Record("chat.example.com", "A", "192.0.2.1", 300)], "example.org")
    dns_tool.check_zone([dns_tool.Record("chat.example.com", "CNAME", "lb.example.net", 300)], "example.com")


def test_several_addresses_of_one_name_become_one_endpoint_with_all_targets() -> None:
    outputs = {
        "host": "chat.example.com",
        "namespace": "rocketchat",
        "dnsRecords": [
            {"name": "chat.example.com", "type": "A", "value": "192.0.2.1", "ttl": 300},
            {"name": "chat.example.com", "type": "A", "value": "192.0.2.2", "ttl": 60},
            {"name": "chat.example.com", "type": "AAAA", "value": "2001:db8::1", "ttl": 300},
        ],
    }
    records = dns_tool.records_from_outputs(outputs)
    endpoint = dns_tool.dns_endpoint(records, name="chat", namespace="rocketchat")
    check_endpoint(endpoint)
    assert endpoint["spec"]["endpoints"] == [
        {"dnsName": "chat.example.com", "recordType": "A", "targets": ["192.0.2.1", "192.0.2.2"], "recordTTL": 60},
        {"dnsName": "chat.example.com", "recordType": "AAAA", "targets": ["2001:db8::1"], "recordTTL": 300},
    ]
    zone = dns.zone.from_text(dns_tool.zone_fragment(records), origin="example.com.", check_origin=False)
    assert sorted(r.to_text() for r in zone.find_rdataset("chat", "A")) == ["192.0.2.1", "192.0.2.2"]
    # One RRset has one TTL (RFC 2181 5.2): the lowest asked for, in the zone as in the DNSEndpoint.
    assert zone.find_rdataset("chat", "A").ttl == 60
    a_lines = [line for line in dns_tool.zone_fragment(records).splitlines() if " A " in line]
    assert len(a_lines) == 2 and all(line.split()[1] == "60" for line in a_lines)
