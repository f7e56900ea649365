"""The per-object diff of two renders: `key -> document` maps compared key by key (a unified diff of each object's
canonical YAML), counts first, and written for a terminal (`format_text`) or a pull-request comment
(`format_markdown`). Pure: it reads the `render --json` documents of both sides and runs nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tools import yamlio


def to_text(document: Any) -> str:
    """The canonical text of an object for diffing: YAML with sorted keys (the engine's key order is not stable)."""
    return yamlio.dump(document, sort_keys=True, default_flow_style=False, width=1000)


@dataclass
class ObjectDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    patches: dict[str, str] = field(default_factory=dict)
    """Key -> unified diff text, for every added, removed and changed key."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def counts(self) -> str:
        return (
            f"{len(self.changed)} changed, {len(self.added)} added, {len(self.removed)} removed "
            f"({self.unchanged} unchanged)"
        )


def diff_objects(base: Mapping[str, Any], head: Mapping[str, Any], context: int = 3) -> ObjectDiff:
    """Compare two `key -> document` maps; a unified diff per added, removed or changed key, in key order."""
    result = ObjectDiff()
    for key in sorted(set(base) | set(head)):
        before = to_text(base[key]).splitlines(keepends=True) if key in base else []
        after = to_text(head[key]).splitlines(keepends=True) if key in head else []
        if key not in base:
            result.added.append(key)
        elif key not in head:
            result.removed.append(key)
        elif before == after:
            result.unchanged += 1
            continue
        else:
            result.changed.append(key)
        result.patches[key] = "".join(
            difflib.unified_diff(
                before,
                after,
                fromfile=f"a/{key}" if key in base else "/dev/null",
                tofile=f"b/{key}" if key in head else "/dev/null",
                n=context,
            )
        )
    return result


@dataclass
class PlanDiff:
    stack: str
    base: str
    diff: ObjectDiff
    base_summary: str
    head_summary: str
    warnings: list[str] = field(default_factory=list)


def compare_renders(stack: str, base: str, before: dict[str, Any], after: dict[str, Any]) -> PlanDiff:
    """Two `render --json` documents of `stack` (the base's and the working tree's), compared object by object."""

    def documents(render: dict[str, Any]) -> dict[str, Any]:
        return {o["key"]: o["document"] for o in render["objects"]}

    return PlanDiff(
        stack=stack,
        base=base,
        diff=diff_objects(documents(before), documents(after)),
        base_summary=before["summaryLine"],
        head_summary=after["summaryLine"],
        warnings=sorted(set(before["warnings"]) | set(after["warnings"])),
    )


def format_text(plan: PlanDiff) -> str:
    lines = [
        f"{plan.stack} against {plan.base}: {plan.diff.counts()}",
        f"  base: {plan.base_summary}",
        f"  head: {plan.head_summary}",
    ]
    lines += [f"  warning: {w}" for w in plan.warnings]
    for title, keys in (("changed", plan.diff.changed), ("added", plan.diff.added), ("removed", plan.diff.removed)):
        lines += [f"  {title}: {key}" for key in keys]
    body = "".join(plan.diff.patches[key] for key in sorted(plan.diff.patches))
    return "\n".join(lines) + ("\n\n" + body if body else "\n")


def format_markdown(plan: PlanDiff, max_chars: int = 60_000) -> str:
    """For a pull-request comment or job summary; the diff is cut at `max_chars` (GitHub's limit is 65,536)."""
    lines = [
        f"#### Manifest diff: `{plan.stack}` against `{plan.base}`",
        "",
        f"**{plan.diff.counts()}**",
        "",
        f"- base: `{plan.base_summary}`",
        f"- this change: `{plan.head_summary}`",
        "",
    ]
    lines += [f"> warning: {w}" for w in plan.warnings]
    for title, keys in (("changed", plan.diff.changed), ("added", plan.diff.added), ("removed", plan.diff.removed)):
        lines += [f"- {title}: `{key}`" for key in keys]
    if plan.diff.empty:
        lines.append("No Kubernetes object changes.")
        return "\n".join(lines) + "\n"
    body = "".join(plan.diff.patches[key] for key in sorted(plan.diff.patches))
    if len(body) > max_chars:
        body = body[:max_chars].rsplit("\n", 1)[0] + "\n... (cut; run `python -m tools.plan diff` for all of it)\n"
    lines += ["", "<details><summary>Per-object diff (secrets redacted)</summary>", "", "```diff", body.rstrip(), "```"]
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
