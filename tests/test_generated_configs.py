"""Property: every stack config the program accepts deploys, and every one it refuses says which key and why.

Configs are generated from the schema itself (tests/config_strategies.py: every key, valid and invalid values, random
combinations, keys that do not exist, secrets in every form) and run as a new user would run them: the real program,
under the recording engine, on the dev stack file with its `rocketchat:` keys replaced. Each example ends in one of:

- refused: one ConfigError, every line naming a `rocketchat:` key, in words (no type name of the schema, no pattern,
  no path fragment of the validator), no secret shown, and nothing registered;
- accepted: every object registered (and, where the chart is at hand, every object the chart renders with the
  program's values) passes the API server's rules (tools/api_checks.py, the same functions the program applies before
  registering, stack_config/api_rules.py) and kubernetes-validate's strict schemas; no warning shows a secret.

Anything else (a traceback, a hang) fails the example. CI runs a fixed, derandomized sample; a longer run is one
environment variable away (docs/validation.md):

    ROCKETCHAT_CONFIG_EXAMPLES=2000 venv/bin/python -m pytest tests/test_generated_configs.py -n 0
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel, ValidationError

from components.tokens import RELEASE_TYPE
from stack_config import ConfigError, schema
from stack_config.diagnostics import _describe, shown
from tests.config_strategies import SECRET_MARKER, UNPOOLED, model_strategy, stack_config_overrides
from tools.api_checks import object_problems
from tools.engine import PROJECT_DIR, Recording, Secret, run_program, stack_config
from tools.manifests import plain, release_values

EXAMPLES = int(os.environ.get("ROCKETCHAT_CONFIG_EXAMPLES", "120"))
"""Generated configs run through the program: 120 in CI (about 15 s on one worker), more for a longer run."""
LONG_RUN = "ROCKETCHAT_CONFIG_EXAMPLES" in os.environ
KUBERNETES_VERSION = "1.33.0"
"""The schemas the objects are held to: the minor of the e2e suite's API server."""
NO_SCHEMA_HERE = frozenset({"PodMonitor", "PrometheusRule", "HTTPRoute"})
"""Custom resources kubernetes-validate has no schema for (the e2e suite's API server judges them)."""
CHART_DIR_ENV = "ROCKETCHAT_CHART_DIR"
DEV_KEYS = tuple(k for k in stack_config("dev", as_committed=True)[0] if k.startswith("rocketchat:"))
INTERNAL_WORDS = (
    "[key]",
    "Value error",
    "should match pattern",
    "pydantic",
    "SecretStr",
    "<class",
    "Traceback",
    *(name for name, value in vars(schema).items() if isinstance(value, type) and issubclass(value, BaseModel)),
)
"""What a message must never show: the validator's path fragments, pydantic's words, the schema's class names."""

OUTCOMES: Counter[str] = Counter()
"""How the examples ended (printed by the long run's summary test)."""


def chart_dir() -> Path | None:
    given = os.environ.get(CHART_DIR_ENV)
    return Path(given) if given else None


@pytest.fixture(scope="module", autouse=True)
def parsed_schemas_kept() -> Iterator[None]:
    """kubernetes-validate re-reads its schema files for every object; keep each parsed file for this module."""
    utils = kubernetes_validate.utils
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "schema_contents", functools.cache(utils.schema_contents))
        patch.setattr(utils, "all_versions", functools.cache(utils.all_versions))
        yield


def schema_problems(doc: dict[str, Any]) -> list[str]:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        return [f"{doc['kind']}/{doc['metadata'].get('name')}: {path}: {error.message}"]
    return []


def run_generated(overrides: dict[str, Any], recording: Recording) -> None:
    """The program on the dev stack file with every `rocketchat:` key replaced by the generated ones."""
    remove = tuple(k for k in DEV_KEYS if k not in overrides)
    run_program("dev", overrides, remove, recording=recording)


def check_refusal(error: ConfigError, recording: Recording) -> None:
    assert recording.resources == [], [r.name for r in recording.resources]
    assert recording.outputs == {}
    assert error.stack_file == "Pulumi.dev.yaml"
    assert error.problems
    for problem in error.problems:
        key, _, message = problem.partition(": ")
        assert key.startswith("rocketchat:"), problem
        assert message, problem
        for word in INTERNAL_WORDS:
            assert word not in message, f"{word!r} in: {problem}"
    assert SECRET_MARKER not in str(error)


def registered_objects(recording: Recording) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The whole objects the program registers, and its patches of objects others make (`...Patch` resources:
    server-side applies of a few fields of the chart's objects). Objects only read (a Gateway someone else owns)
    have no manifest and are left out."""
    objects, patches = [], []
    for resource in recording.resources:
        if not resource.type.startswith("kubernetes:") or resource.type == RELEASE_TYPE:
            continue
        doc = plain(resource.inputs)
        if "kind" in doc:
            (patches if resource.type.endswith("Patch") else objects).append(doc)
    return objects, patches


def merged(base: Any, patch: Any) -> Any:
    """A patch laid over an object as a server-side apply merges it: maps key by key, lists of named items
    (containers, env, ports, volumes: their list-map key is `name`) item by item, other lists replaced whole."""
    if isinstance(base, dict) and isinstance(patch, dict):
        return {**base, **{k: merged(base[k], v) if k in base else v for k, v in patch.items()}}
    named = isinstance(base, list) and isinstance(patch, list)
    if named and all(isinstance(item, dict) and "name" in item for item in [*base, *patch]):
        given = {item["name"]: item for item in patch}
        kept = [merged(item, given.pop(item["name"])) if item["name"] in given else item for item in base]
        return kept + list(given.values())
    return patch


def check_acceptance(recording: Recording, chart: Path | None = None) -> tuple[list[dict[str, Any]], list[Any]]:
    """The objects the program registered (and the chart in `chart` renders, with the program's patches laid over
    them) hold to the API server's rules and schemas; returns them, and the patches whose object is not at hand
    (held to the rules alone: a patch is not a whole object for the schemas)."""
    docs, patches = registered_objects(recording)
    assert docs, "accepted, and nothing registered"
    if chart is not None:
        from tools.plan.render import render_chart

        namespace = next(iter(d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")))
        for release, values in release_values(recording).items():
            docs = docs + render_chart(chart, values, release, namespace)
    unmatched = []
    for patch in patches:
        name = (patch["kind"], patch["metadata"]["name"])
        targets = [i for i, doc in enumerate(docs) if (doc["kind"], doc["metadata"].get("name")) == name]
        for i in targets:
            docs[i] = merged(docs[i], patch)
        if not targets:
            unmatched.append(patch)
    problems = [p for doc in docs for p in object_problems(doc)]
    problems += [p for patch in unmatched for p in object_problems(patch, partial=True)]
    problems += [p for doc in docs if doc["kind"] not in NO_SCHEMA_HERE for p in schema_problems(doc)]
    assert not problems, "\n".join(problems)
    for _, message in recording.logs:
        assert SECRET_MARKER not in message
    return docs, unmatched


def judge(overrides: dict[str, Any]) -> str:
    """Run one generated config and check whichever way it ended; returns how."""
    recording = Recording()
    try:
        run_generated(overrides, recording)
    except ConfigError as error:
        check_refusal(error, recording)
        return "refused"
    check_acceptance(recording, chart_dir())
    return "accepted"


def shown_overrides(overrides: dict[str, Any]) -> str:
    return json.dumps({k: ("<secret>" if isinstance(v, Secret) else v) for k, v in overrides.items()}, default=str)


@settings(
    max_examples=EXAMPLES,
    derandomize=not LONG_RUN,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(overrides=stack_config_overrides())
def test_a_generated_config_is_refused_naming_its_keys_or_accepted_and_valid(overrides: dict[str, Any]) -> None:
    OUTCOMES[judge(overrides)] += 1


@settings(max_examples=EXAMPLES * 3, derandomize=not LONG_RUN, database=None, deadline=None)
@given(raw=model_strategy(schema.StackConfig))
def test_a_message_about_a_value_shows_the_value(raw: dict[str, Any]) -> None:
    """Every message of the schema's own checks shows the value it refuses (a secret's excepted), whatever the
    message says: the value was once left out when it happened to appear in the message."""
    try:
        schema.StackConfig.model_validate(raw)
    except ValidationError as error:
        for detail in error.errors():
            message = _describe(detail)
            if detail["type"] in ("missing", "extra_forbidden") or detail["loc"][0] in ("mongoUrl", "license"):
                continue
            given = detail["input"]
            assert shown(given) in message or (isinstance(given, str) and repr(given) in message), message


def test_the_sample_reaches_both_outcomes() -> None:
    """The generator is not degenerate: the property test's sample (run before this test, in this process) had
    accepted and refused configs alike, neither under a tenth of them."""
    if not OUTCOMES:
        pytest.skip("the property test did not run in this process")
    total = sum(OUTCOMES.values())
    print(f"\ngenerated configs: {dict(OUTCOMES)} ({total} in all)")
    assert OUTCOMES["accepted"] >= total / 10 and OUTCOMES["refused"] >= total / 10, dict(OUTCOMES)


def test_every_validator_has_values() -> None:
    """A key whose validator the generator has no values for gets plain text, which it nearly always refuses: its
    valid side is never tried. Add its values to POOLS in tests/config_strategies.py."""
    assert not UNPOOLED, f"no values for the validators of {sorted(UNPOOLED)}: add them to tests/config_strategies.py"


def test_the_chart_is_checked_where_it_is_at_hand() -> None:
    if chart_dir() is None:
        pytest.skip(f"{CHART_DIR_ENV} is not set: the chart's rendered objects are not checked in this run")
    assert (chart_dir() / "Chart.yaml").is_file()


def test_the_dev_stack_files_keys_are_all_replaced() -> None:
    """The generated config stands alone: none of the dev stack file's `rocketchat:` keys is left under it."""
    config, _ = stack_config("dev", {"rocketchat:mode": "raw"}, tuple(k for k in DEV_KEYS if k != "rocketchat:mode"))
    assert [k for k in config if k.startswith("rocketchat:")] == ["rocketchat:mode"]
    assert PROJECT_DIR.joinpath("Pulumi.dev.yaml").is_file()
