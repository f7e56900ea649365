"""tools.plan.diff: two renders compared object by object, and the text and markdown forms of the result."""

from __future__ import annotations

from tools.plan.diff import ObjectDiff, PlanDiff, diff_objects, format_markdown


def test_object_diff_counts_and_patches_added_removed_and_changed_objects() -> None:
    base = {
        "Deployment/ns/a": {"kind": "Deployment", "spec": {"replicas": 1, "paused": False}},
        "Service/ns/b": {"kind": "Service", "spec": {"ports": [80]}},
        "Secret/ns/c": {"kind": "Secret"},
    }
    head = {
        # the same object with its keys in another order: not a change
        "Service/ns/b": {"spec": {"ports": [80]}, "kind": "Service"},
        "Deployment/ns/a": {"spec": {"paused": False, "replicas": 2}, "kind": "Deployment"},
        "ConfigMap/ns/d": {"kind": "ConfigMap", "data": {"k": "v"}},
    }
    result = diff_objects(base, head)
    assert (result.changed, result.added, result.removed, result.unchanged) == (
        ["Deployment/ns/a"],
        ["ConfigMap/ns/d"],
        ["Secret/ns/c"],
        1,
    )
    assert result.counts() == "1 changed, 1 added, 1 removed (1 unchanged)"
    patch = result.patches["Deployment/ns/a"]
    assert patch.startswith("--- a/Deployment/ns/a\n+++ b/Deployment/ns/a\n")
    assert "-  replicas: 1\n+  replicas: 2\n" in patch
    assert result.patches["ConfigMap/ns/d"].startswith("--- /dev/null\n+++ b/ConfigMap/ns/d\n")
    assert result.patches["Secret/ns/c"].startswith("--- a/Secret/ns/c\n+++ /dev/null\n")
    assert set(result.patches) == {"Deployment/ns/a", "ConfigMap/ns/d", "Secret/ns/c"}
    assert diff_objects(head, head).empty


def test_markdown_output_fits_a_comment_and_keeps_the_counts_first() -> None:
    result = ObjectDiff(changed=["Deployment/rc/big"], patches={"Deployment/rc/big": "+x\n" * 40_000})
    text = format_markdown(PlanDiff("prod", "origin/main", result, "base line", "head line"), 1000)
    assert text.startswith("#### Manifest diff: `prod` against `origin/main`\n\n**1 changed, 0 added, 0 removed")
    assert len(text) < 2000
    assert "(cut; run `python -m tools.plan diff` for all of it)" in text
    assert text.rstrip().endswith("</details>")


def test_markdown_says_so_when_nothing_changed() -> None:
    result = diff_objects({"Service/rc/a": {"kind": "Service"}}, {"Service/rc/a": {"kind": "Service"}})
    text = format_markdown(PlanDiff("dev", "HEAD", result, "same | line", "same | line"))
    assert "**0 changed, 0 added, 0 removed (1 unchanged)**" in text
    assert "No Kubernetes object changes." in text and "```diff" not in text
    assert "- base: `same | line`" in text  # in a list, not a table: the summary's pipes stay intact
