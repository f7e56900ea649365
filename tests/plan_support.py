"""Helpers for the tools.plan tests (tests/test_plan*.py): the chart directory, when one is given, and every secret
value a stack's render must not show."""

from __future__ import annotations

import os

import pytest

from components.passwords import PASSWORD_TYPE
from tools.engine import PLACEHOLDER_SECRETS, reveal, run_program
from tools.plan.render import CHART_DIR_ENV

CHART_DIR = os.environ.get(CHART_DIR_ENV)
needs_chart = pytest.mark.skipif(
    not CHART_DIR, reason=f"set {CHART_DIR_ENV} to the official chart's directory (scripts/fetch-chart)"
)


def secret_values(stack: str) -> set[str]:
    """Every secret value the program handles for `stack` (placeholders and generated passwords), revealed."""
    values = set(PLACEHOLDER_SECRETS.values())
    for resource in run_program(stack).of_type("Secret"):
        values |= {v for v in (reveal(resource.inputs).get("stringData") or {}).values() if isinstance(v, str)}
    values |= {f"generated-{r.name}" for r in run_program(stack).of_type(PASSWORD_TYPE)}
    return {v for v in values if len(v) > 8}
