"""Helpers for the helm-mode tests (tests/test_release_*.py): settings from the real stack file, the program's
Release and Secrets from the recording engine, and the URN and dependencies Pulumi would see."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.passwords import PASSWORD_TYPE
from components.tokens import RELEASE_TYPE
from stack_config import Settings, decode_stack_config, load_settings
from tools.engine import PROJECT_DIR, Recording, Resource, contains_secret, reveal, run_program, stack_config

PROD_CONFIG: dict[str, Any] = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]

# Stack variants the helm-mode tests run (overrides, removed keys), on top of Pulumi.prod.yaml.
IN_CLUSTER_MONGODB = {"rocketchat:mongodb": {"inCluster": {"replicas": 3, "storage": "20Gi"}}}
VARIANTS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "prod": ({}, ()),
    "monolith": ({"rocketchat:microservices": False}, ()),
    "v7.6.2": ({"rocketchat:version": "7.6.2"}, ()),
    "v7.7.4": ({"rocketchat:version": "7.7.4"}, ()),
    "v7.7.4-stream-hub": ({"rocketchat:version": "7.7.4", "rocketchat:services": {"streamHub": {"enabled": True}}}, ()),
    "bundled-nats": ({"rocketchat:nats": {"replicas": 3, "bundled": True}}, ()),
    "in-cluster-mongodb": (IN_CLUSTER_MONGODB, ("rocketchat:mongoUrl",)),
    "monitored": ({"rocketchat:monitoring": {"podMonitor": True, "prometheusRule": True, "dashboards": True}}, ()),
}


def settings_for(
    stack: str = "prod", overrides: Mapping[str, Any] | None = None, remove: tuple[str, ...] = ()
) -> Settings:
    """The settings the program derives from `Pulumi.<stack>.yaml` (+ overrides), decoded exactly as it decodes them."""
    config, secret_keys = stack_config(stack, overrides, remove)
    return load_settings(stack, *decode_stack_config(config, secret_keys))


def prod_chart(**changes: Any) -> dict[str, Any]:
    """`rocketchat:chart` of Pulumi.prod.yaml with some keys changed (an override replaces the whole object)."""
    return {**PROD_CONFIG["rocketchat:chart"], **changes}


def strings(value: Any) -> Iterator[str]:
    """Every string in a nested structure, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def keys(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield key
            yield from keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys(item)


@dataclass
class Run:
    """One run of the real program: what it registered, and how Pulumi would identify and order it."""

    recording: Recording

    @property
    def registrations(self) -> list[Resource]:
        """Everything registered, components included, each with its URN, parent and dependencies."""
        return self.recording.resources

    @property
    def release(self) -> Resource:
        releases = self.recording.of_type(RELEASE_TYPE)
        assert len(releases) == 1, f"expected exactly one helm.v3.Release, got {[r.name for r in releases]}"
        return releases[0]

    @property
    def values(self) -> dict[str, Any]:
        """The Release values exactly as the program passes them (a secret inside would make them a secret)."""
        raw = self.release.inputs["values"]
        assert not contains_secret(raw), "the Release values hold a secret: Pulumi would hide them, Helm would not"
        return reveal(raw)

    def registration(self, type_: str, name: str) -> Resource:
        found = [r for r in self.registrations if (r.type == type_ or r.type.endswith(f":{type_}")) and r.name == name]
        assert len(found) == 1, f"expected one {type_} {name}"
        return found[0]

    def secrets(self) -> dict[str, dict[str, str]]:
        """Secret name -> its data, revealed, for every Secret the program creates."""
        out = {}
        for secret in self.recording.of_type("kubernetes:core/v1:Secret"):
            inputs = reveal(secret.inputs)
            out[inputs["metadata"]["name"]] = dict(inputs.get("stringData") or {}) | dict(inputs.get("data") or {})
        return out

    def secret_namespaces(self) -> set[str]:
        return {reveal(s.inputs)["metadata"]["namespace"] for s in self.recording.of_type("kubernetes:core/v1:Secret")}

    def generated_passwords(self) -> list[str]:
        """The generated credentials (the recording mocks make them `generated-<name>`), without the rollout keys."""
        return [f"generated-{r.name}" for r in self.recording.of_type(PASSWORD_TYPE) if not _is_rollout_key(r)]

    def rollout_keys(self) -> list[str]:
        """The generated keys of the rollout digests (components/credentials.py): in no Secret, only in the state."""
        return [f"generated-{r.name}" for r in self.recording.of_type(PASSWORD_TYPE) if _is_rollout_key(r)]


def _is_rollout_key(resource: Resource) -> bool:
    return resource.name.endswith("rollout-key")


def run(stack: str = "prod", overrides: Mapping[str, Any] | None = None, remove: tuple[str, ...] = ()) -> Run:
    """Run the program under the recording engine (a copy of an earlier identical run, when there was one)."""
    return Run(run_program(stack, overrides, remove))


def variant(name: str) -> Run:
    overrides, remove = VARIANTS[name]
    return run("prod", overrides, remove)


def project_path(*parts: str) -> Path:
    return PROJECT_DIR.joinpath(*parts)
