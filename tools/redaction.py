"""How the tools hide secret values in what they print and write: one marker, and a keyed form for comparisons.

Pure Python (no Pulumi), so `tools.plan diff`'s own process uses it without loading the program.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

REDACTED = "<redacted>"


@dataclass(frozen=True)
class Redaction:
    """How a secret value is hidden: `<redacted>`; or, given a key, `<redacted:1a2b3c4d>`, a keyed digest that tells
    two renders of one comparison whether a value changed and nothing about the value (`tools.plan diff` draws a
    random key for each comparison and forgets it)."""

    key: str | None = None

    def mark(self, value: Any) -> str:
        if self.key is None:
            return REDACTED
        text = json.dumps(value, sort_keys=True, default=str)
        return f"<redacted:{hmac.new(self.key.encode(), text.encode(), hashlib.sha256).hexdigest()[:8]}>"

    def hide(self, value: Any) -> Any:
        """Keep the shape (keys of a Secret's data stay visible in diffs), hide every value."""
        if isinstance(value, dict):
            return {k: self.mark(v) for k, v in value.items()}
        return self.mark(value)


HIDDEN = Redaction()
"""Every value shown as `<redacted>`."""

REDACTION_KEY_ENV = "ROCKETCHAT_PLAN_REDACTION_KEY"
"""How `tools.plan diff` hands its key to the renders it runs (in the environment: no command line shows it)."""
