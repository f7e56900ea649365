"""The one error of tools.plan: a problem the user can fix, printed as `error: ...` (exit code 2), no traceback."""

from __future__ import annotations


class PlanError(Exception):
    """A problem the user can fix (unknown revision, missing stack file, failing render); printed without traceback."""
