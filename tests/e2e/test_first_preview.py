"""A new user's first look at production, through the real CLI: `pulumi stack select prod --create` and
`pulumi preview` before any secret is set end in the program's own message (which secret, why, the command that
sets it), not in the engine's "bad value"; once the secrets are set, the same preview succeeds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import REPORT, ChartRepository, Pulumi

pytestmark = pytest.mark.e2e

MONGO_URL = "mongodb+srv://rocketchat:new-user-password@cluster.example.net/rocketchat"


@pytest.fixture(scope="module")
def prod(pulumi: Pulumi) -> Iterator[Pulumi]:
    """The committed Pulumi.prod.yaml, as a new user has it; put back afterwards (the preview's secrets go into it)."""
    stack_file = pulumi.workdir / "Pulumi.prod.yaml"
    committed = stack_file.read_text()
    try:
        yield pulumi
    finally:
        pulumi.run("stack", "rm", "--yes", "--force", "-s", "prod", check=False)
        stack_file.write_text(committed)


def test_the_first_preview_names_each_missing_secret_and_its_command(prod: Pulumi, chart_repo: ChartRepository) -> None:
    prod.run("stack", "select", "prod", "--create", "--secrets-provider", "passphrase")
    first = prod.timed("first preview: without secrets", "preview", "-s", "prod", check=False)
    said = first.stdout + first.stderr
    assert first.returncode != 0
    assert "bad value" not in said, said[-3000:]
    assert "invalid stack configuration in Pulumi.prod.yaml (1 problem)" in said, said[-3000:]
    assert "rocketchat:mongoUrl: no MongoDB source" in said
    command = (
        "pulumi config set --secret --stack prod rocketchat:mongoUrl "
        "'mongodb+srv://USER:PASSWORD@cluster.example.net/rocketchat'"
    )
    assert command in said
    message = next(line for line in said.splitlines() if "rocketchat:mongoUrl:" in line)
    REPORT.append(f"first preview of prod, exit code {first.returncode}: {message.strip()}")

    # As the message says (and, on this machine, the chart from the local repository instead of the Internet's).
    prod.run("config", "set", "--secret", "rocketchat:mongoUrl", MONGO_URL, "-s", "prod")
    prod.run("config", "set", "--path", "rocketchat:chart.repo", chart_repo.url, "-s", "prod")
    second = prod.timed("first preview: with the secret set", "preview", "-s", "prod", check=False)
    said = second.stdout + second.stderr
    assert second.returncode == 0, said[-3000:]
    # The licence is optional, and the program says what running without it means, with its command.
    assert 'pulumi config set --secret --stack prod rocketchat:license "$(cat rocketchat.license)"' in said
    REPORT.append(f"first preview of prod with rocketchat:mongoUrl set: exit code {second.returncode}")
