"""CrossGuard wrappers: one mandatory ResourceValidationPolicy per rule of rocketchat_rules.RULES."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from rocketchat_rules import RULES, Rule

PACK_NAME = "rocketchat"


def _validate(check: Callable[[str, Mapping[str, Any]], list[str]]) -> Callable[..., None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args.resource_type, args.props):
            report_violation(message, None)

    return validate


def policy_for(rule: Rule) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_validate(rule.check),
    )


POLICIES: list[ResourceValidationPolicy] = [policy_for(rule) for rule in RULES]
