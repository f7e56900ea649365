"""A stack never takes over an object that is not its own: the check made before anything is registered.

An object the update would create is the stack's own when its state already holds it, or when it carries the stack's
`rocketchat.chat/owned-by` annotation (left by an earlier life of the same stack, e.g. a namespace kept on destroy).
Anything else that exists under that name belongs to another stack, or to nobody this program knows (made by hand,
by Helm, by another tool): the update is refused, naming the object, its owner and the way out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import pulumi

from components.inventory import HELM_RELEASE, ObjectRef
from stack_config.cluster import ClusterUnreadable, LiveObject, read_live
from stack_config.diagnostics import CONFIG_NAMESPACE, stack_file


class OwnershipError(pulumi.RunError):
    """The update would take over objects that are not the stack's; the message names each. RunError: no traceback."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        count = f"{len(problems)} object{'s' if len(problems) != 1 else ''}"
        super().__init__(
            f"{stack_file(stack)}: this update would take over {count} that this stack does not own; nothing was "
            f"changed:\n{lines}"
        )


def ownership_problems(
    planned: Iterable[ObjectRef],
    live: Mapping[ObjectRef, LiveObject],
    owner: str,
    own: Collection[ObjectRef],
) -> list[str]:
    """One line per object the update would create over an existing object of someone else's."""
    problems = []
    for ref in planned:
        found = live.get(ref)
        if ref in own or found is None or found.owner == owner:
            continue
        problems.append(f"{_key_of(ref)}: {ref} already exists and {_whose(found)}. {_way_out(ref)}")
    return problems


def _whose(found: LiveObject) -> str:
    if found.owner:
        return (
            f"belongs to stack {found.owner}: this update would take it over, and a `pulumi destroy` of this stack "
            "would then delete it from under that one"
        )
    made = f" ({found.made_by})" if found.made_by else ""
    return f"no stack of this program made it{made}: this update would take it over without asking"


def _key_of(ref: ObjectRef) -> str:
    if ref.kind == "Namespace":
        return f"{CONFIG_NAMESPACE}:namespace"
    if ref.kind == HELM_RELEASE:
        return f"{CONFIG_NAMESPACE}:chart.releaseName"
    return f"{CONFIG_NAMESPACE}:instance"


def _way_out(ref: ObjectRef) -> str:
    if ref.kind == "Namespace":
        return (
            "Use a namespace of this stack's own (`pulumi config set rocketchat:namespace <name>`), or share this one "
            "without owning it (`pulumi config set rocketchat:createNamespace false` and an instance of this stack's "
            "own: `pulumi config set rocketchat:instance <name>`)"
        )
    if ref.kind == HELM_RELEASE:
        return (
            "Give this stack's release another name (`pulumi config set --path rocketchat:chart.releaseName <name>`), "
            "or adopt that release on purpose with `pulumi import` (README: adopting a release)"
        )
    return (
        "Give this stack an instance of its own (`pulumi config set rocketchat:instance <name>`: every object of the "
        "stack is named after it) or another namespace; to take the object over on purpose, `pulumi import` it into "
        "this stack first (docs/ownership.md)"
    )


def check_ownership(
    stack: str,
    planned: list[ObjectRef],
    owner: str,
    own: Collection[ObjectRef],
    provider_config: Mapping[str, object],
) -> list[str]:
    """Refuse (OwnershipError) an update that would take over what is not the stack's; the warnings to print.

    A cluster that cannot be read is a warning in a preview (the provider previews without one too) and an error in
    an update: without the read, nothing shows that the update takes over nothing."""
    to_create = [ref for ref in planned if ref not in own]
    if not to_create:
        return []
    try:
        live = read_live(to_create, provider_config)
    except ClusterUnreadable as error:
        if pulumi.runtime.is_dry_run():
            return [f"ownership not checked: the cluster could not be read ({error}); `pulumi up` will check it"]
        unread = (
            f"the cluster could not be read ({error}), so nothing shows that the {len(to_create)} objects this "
            "update creates are not another stack's; run it again once the cluster answers"
        )
        raise OwnershipError(stack, [unread]) from error
    problems = ownership_problems(to_create, live, owner, own)
    if problems:
        raise OwnershipError(stack, problems)
    return []
