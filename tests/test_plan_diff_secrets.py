"""The review diff (`tools.plan diff`, which the pull-request workflow posts) when a Secret changes between the base
and the head: it says which Secret and which of its keys changed, and shows none of the values, old or new.

Each side's Secret values are marked `<redacted:xxxxxxxx>`, a digest keyed by a random key `diff` draws for this one
comparison (tools/redaction.py): a changed value shows a different mark, an unchanged one the same, and the marks
tell nothing about the values (not even across two runs of `diff`). The change here is a real one of the dev stack:
NATS from one server to three and the in-cluster MongoDB from one member to three, which rewrites the NATS config
(its route list holds the route password) and the MongoDB URL (its hosts and its password) in their Secrets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.plan_support import secret_values
from tests.test_plan import changed_keys, make_repo, run_diff
from tools.engine import reveal, run_program

NAMESPACE = "rocketchat-dev"
CHANGE = ["--set", 'rocketchat:nats={"replicas": 3}', "--set", 'rocketchat:mongodb={"inCluster": {"replicas": 3}}']
CHANGED_SECRETS = {f"Secret/{NAMESPACE}/rocketchat-nats-config", f"Secret/{NAMESPACE}/rocketchat-mongodb"}


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The diff's text, as `diff --stack dev --base HEAD` prints it for the change, in a throwaway repository."""
    repo = make_repo(tmp_path_factory.mktemp("secret-diff"), stacks=("dev",))
    result = run_diff(repo, "--stack", "dev", "--base", "HEAD", *CHANGE)
    assert result.returncode == 0, result.stderr
    return result.stdout


def every_secret_value() -> set[str]:
    """The values of every Secret of both sides, whole and line by line (a diff shows lines), and the passwords."""
    values = secret_values("dev")
    for overrides in ({}, {"rocketchat:nats": {"replicas": 3}, "rocketchat:mongodb": {"inCluster": {"replicas": 3}}}):
        for secret in run_program("dev", overrides).of_type("Secret"):
            for value in (reveal(secret.inputs).get("stringData") or {}).values():
                values |= {value, *(line.strip() for line in value.splitlines() if len(line.strip()) > 12)}
    return {v for v in values if len(v) > 8}


def marks(patch: str, sign: str, key: str) -> list[str]:
    return re.findall(rf"^{re.escape(sign)}\s+{re.escape(key)}: (<redacted[^>]*>)$", patch, flags=re.MULTILINE)


def test_the_changed_secrets_are_named_with_the_other_objects_the_change_touches(review: str) -> None:
    changed = changed_keys(review)["changed"]
    assert changed >= CHANGED_SECRETS, changed
    # The Secrets whose values did not change are not in the diff: the same value gets the same mark on both sides.
    assert f"Secret/{NAMESPACE}/rocketchat-bus" not in changed


@pytest.mark.parametrize(
    ("secret", "key"), [("rocketchat-nats-config", "nats.conf"), ("rocketchat-mongodb", "mongo-uri")]
)
def test_a_changed_value_shows_two_different_marks_and_nothing_of_the_value(review: str, secret: str, key: str) -> None:
    patch = review[review.index(f"--- a/Secret/{NAMESPACE}/{secret}") :].split("\n--- a/", 1)[0]
    (before,) = marks(patch, "-", key)
    (after,) = marks(patch, "+", key)
    assert re.fullmatch(r"<redacted:[0-9a-f]{8}>", before) and re.fullmatch(r"<redacted:[0-9a-f]{8}>", after)
    assert before != after


def test_no_secret_value_old_or_new_is_in_the_review(review: str) -> None:
    leaked = [value for value in every_secret_value() if value in review]
    assert not leaked, f"{len(leaked)} secret values in the review diff"
    for fragment in ("nats://route:", "mongodb://", "generated-", "password"):
        assert fragment not in review, fragment


def test_the_marks_of_another_comparison_are_drawn_anew(review: str, tmp_path: Path) -> None:
    """A mark cannot be matched across reviews (each `diff` draws its own key): two runs of the same change mark
    the same value differently."""
    repo = make_repo(tmp_path, stacks=("dev",))
    again = run_diff(repo, "--stack", "dev", "--base", "HEAD", *CHANGE)
    assert again.returncode == 0, again.stderr
    first = set(re.findall(r"<redacted:[0-9a-f]{8}>", review))
    second = set(re.findall(r"<redacted:[0-9a-f]{8}>", again.stdout))
    assert first and second and not first & second, json.dumps(sorted(first & second))
