"""Version parsing and the Rocket.Chat version rules (which versions need, allow or forbid stream-hub)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

# The official chart this program pins by default (rocketchat:chart.version, .repo); scripts/fetch-chart fetches it.
DEFAULT_CHART_REPO = "https://rocketchat.github.io/helm-charts"
DEFAULT_CHART_VERSION = "7.0.2"

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse an exact semantic version (`8.6.1`, `7.7.0-rc.1`); raise ValueError otherwise.

        Pre-release and build suffixes are accepted but ordered as their release: the rules below
        are drawn at minor versions, so `7.7.0-rc.1` behaves as 7.7.
        """
        match = _SEMVER.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"{text!r} is not an exact semantic version such as 8.6.1")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def is_exact_semver(text: str) -> bool:
    """The whole text is one exact version (`match` would let a final newline through `$`)."""
    return isinstance(text, str) and bool(_SEMVER.fullmatch(text))


class StreamHubRule(Enum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    REMOVED = "removed"


STREAM_HUB_OPTIONAL_FROM = Version(7, 7, 0)
STREAM_HUB_REMOVED_FROM = Version(8, 0, 0)


def stream_hub_rule(version: Version) -> StreamHubRule:
    """Before 7.7 stream-hub turns change streams into bus events and must run; 7.7.x may drop it; 8.0 removed it."""
    if version < STREAM_HUB_OPTIONAL_FROM:
        return StreamHubRule.REQUIRED
    if version < STREAM_HUB_REMOVED_FROM:
        return StreamHubRule.OPTIONAL
    return StreamHubRule.REMOVED
